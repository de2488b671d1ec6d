"""Customer and employee text as literal text in each channel's markup; links and mentions only from us.

A notification shows words a customer or an employee typed. Each channel reads its own markup
(Slack mrkdwn, Adaptive Card markdown, HTML) and every client turns URLs and bare domains into
links, so that text could otherwise add a "Revisar en la consola" link to an attacker's site or
ping a whole channel. `defang` takes the links and mentions out of written text (it runs once, on
the excerpt and the context lines); `slack`, `teams` and `html` then make any field literal in
their markup. The plain-text mail part and the webhook's JSON need no markup escaping: json.dumps
quotes strings, and plain text has no syntax beyond what `defang` already neutralises.
"""

from __future__ import annotations

import html as _html
import re

_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,30})://")
# Host names with a letter TLD (or punycode): "evil.example", "www.x.com.br"; not "5.010,18" or "14.30".
_HOST = re.compile(r"(?i)(?<![\w.-])(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+(?:[a-z]{2,24}|xn--[a-z0-9-]{1,59})(?![\w-])")
_MENTION = re.compile(r"(?<![\w.+-])@(?=\w)")  # @here, @channel, @everyone, @name (not the @ of an address)


def defang(text: str) -> str:
    """hxxps://evil[.]example/x, evil[.]example, ＠here, <！channel>: readable, but no client links or pings them."""
    text = _SCHEME.sub(lambda m: _defang_scheme(m.group(1)), text)
    return unping(_HOST.sub(lambda m: m.group(0).replace(".", "[.]"), text))


def unping(text: str) -> str:
    """＠here, <＠U123>, <！channel>: mentions no client acts on (full-width @ and !). Also for plain-text
    fields that are not defanged, like the names in a Slack header."""
    text = _MENTION.sub("\uff20", text)  # FULLWIDTH COMMERCIAL AT
    return text.replace("<!", "<\uff01")  # Slack's <!channel>/<!here>, for receivers that do not escape


def _defang_scheme(scheme: str) -> str:
    low = scheme.lower()
    if low in ("http", "https"):
        return scheme[0] + "xx" + scheme[3:] + "://"
    if low in ("ftp", "ftps", "sftp"):
        return scheme.replace("t", "x").replace("T", "X") + "://"
    return scheme + "[:]//"  # any other "scheme://" stops being a link too


_SLACK_LOOKALIKE = str.maketrans({"*": "\u2217", "~": "\u223c", "`": "\u02cb"})
_LOOSE_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")  # not between two letters/digits: may open emphasis


def slack(text: str) -> str:
    """Slack mrkdwn as literal text. &, <, > become &amp; &lt; &gt; as Slack documents, so `<url|label>`,
    `<!channel>` and `<@U123>` show as typed. mrkdwn has no escape for *bold*, _italic_, ~strike~ and
    `code`, so those marks become look-alikes (∗ ∼ ˋ ＿); an underscore inside a word (br_cpf) cannot
    open emphasis and stays."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _LOOSE_UNDERSCORE.sub("\uff3f", text.translate(_SLACK_LOOKALIKE))


_TEAMS_LOOKALIKE = str.maketrans({
    "*": "\u2217", "~": "\u223c", "`": "\u02cb", "\\": "\uff3c",
    "[": "\uff3b", "]": "\uff3d", "<": "\uff1c", ">": "\uff1e",
})
_LIST_START = re.compile(r"(?m)^([ \t]*)(?=[-+#]|\d{1,9}[.)](?:[ \t]|$))")


def teams(text: str) -> str:
    """Adaptive Card TextBlock/FactSet markdown as literal text. The card markdown (bold, italic, lists,
    [label](url)) has no escape that every Teams client honours: backslashes showed up as typed on
    Teams mobile and are ignored by the emphasis parser (microsoft/AdaptiveCards #5590, #5758), so the
    metacharacters become full-width look-alikes no renderer reads as syntax — [ ] < > * ~ ` \\ and a
    loose _ — and a line that would start a list or heading gets a zero-width space in front."""
    text = _LOOSE_UNDERSCORE.sub("\uff3f", text.translate(_TEAMS_LOOKALIKE))
    return _LIST_START.sub("\\1\u200b", text)


def html(text: str) -> str:
    """HTML text or attribute value: & < > " ' as entities (html.escape with quote=True)."""
    return _html.escape(text, quote=True)
