"""Payment cards, e-mail, phone numbers, IP addresses, URLs with credentials, secrets.

Cards: Luhn alone flags many phone and order numbers, so a candidate must also have a length
its brand issues and a brand prefix (IIN ranges), and be written as one run or in groups.
Phones: phonenumbers' VALID leniency, with the business number's country as default region.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterator

import phonenumbers
from stdnum import luhn

from chatwatch.detectors.pii.context import GENERIC, has_context, has_context_after
from chatwatch.detectors.pii.findings import Finding

# (brand, IIN prefixes as (low, high) ranges over the first digits, allowed lengths)
CARD_BRANDS: tuple[tuple[str, tuple[tuple[int, int], ...], frozenset[int]], ...] = (
    ("amex", ((34, 34), (37, 37)), frozenset({15})),
    ("elo", ((401178, 401179), (431274, 431274), (438935, 438935), (451416, 451416), (457393, 457393),
             (504175, 504175), (506699, 506778), (509000, 509999), (627780, 627780), (636297, 636297),
             (636368, 636368), (650031, 650033), (650035, 650051), (650405, 650439), (650485, 650538),
             (650541, 650598), (650700, 650718), (650720, 650727), (650901, 650920), (651652, 651679),
             (655000, 655019), (655021, 655058)), frozenset({16})),
    ("hipercard", ((606282, 606282), (384100, 384100), (384140, 384140), (384160, 384160)), frozenset({16, 19})),
    ("visa", ((4, 4),), frozenset({13, 16, 19})),
    ("mastercard", ((51, 55), (2221, 2720)), frozenset({16})),
    ("discover", ((6011, 6011), (644, 649), (65, 65)), frozenset({16, 17, 18, 19})),
    ("diners", ((300, 305), (36, 36), (38, 39)), frozenset({14, 16})),
    ("jcb", ((3528, 3589),), frozenset({16, 17, 18, 19})),
    ("jcb", ((2131, 2131), (1800, 1800)), frozenset({15})),
    ("maestro", ((5018, 5018), (5020, 5020), (5038, 5038), (5019, 5019), (56, 58), (6304, 6304), (6759, 6761),
                 (6763, 6763), (67, 67), (639, 639)), frozenset({12, 13, 14, 15, 16, 17, 18, 19})),
    ("unionpay", ((62, 62),), frozenset({16, 17, 18, 19})),
    ("uatp", ((1, 1),), frozenset({15})),
)
CARD = re.compile(r"(?<![\w.\-])(?:\d{4}(?:[ \-]\d{4}){2,3}(?:[ \-]\d{1,3})?|\d{4}[ \-]\d{6}[ \-]\d{5}|\d{12,19})(?![\w\-]|\.\d)")
EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*"
                   r"\.(?:[A-Za-z]{2,24}|xn--[A-Za-z0-9-]{1,59})(?![\w-])")
IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w)")
IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:(?<=:)(?:\d{1,3}\.){3}\d{1,3})?(?![\w:]|\.\w)")
URL_CREDENTIALS = re.compile(r"\b[a-z][a-z0-9+.\-]{1,15}://[^\s:/@]+:[^\s@/]+@[^\s/]+", re.IGNORECASE)
# Password words, lower-cased as they begin ("contrase" for contraseña/contrasena).
SECRET_WORDS = ("contrase", "senha", "password", "passwd", "pwd", "clave", "pin", "nip", "token", "passcode")
SECRET_AFTER_WORD = re.compile(
    r"\b(?:contrase(?:ñ|n)a|senha|password|passwd|pwd|clave|pin|nip|token|passcode)\b"
    r"[^\S\n]{0,3}(?:(?:es|é|e|is|da|do|de|del|:|=|->)[^\S\n]{0,3}){0,3}[\"'“]?(?P<value>[^\s\"'”,;]{3,64})",
    re.IGNORECASE)
# What every API_KEY alternative starts with: no prefix in the text, no key to look for.
KEY_PREFIXES = ("sk_live_", "rk_live_", "AKIA", "ASIA", "ghp_", "github_pat_", "xox", "AIza", "glpat-", "eyJ")
API_KEY = re.compile(
    r"\b(?:sk_live_[0-9A-Za-z]{16,}|rk_live_[0-9A-Za-z]{16,}|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|ghp_[0-9A-Za-z]{36}"
    r"|github_pat_[0-9A-Za-z_]{40,}|xox[abprs]-[0-9A-Za-z\-]{10,}|AIza[0-9A-Za-z_\-]{35}|glpat-[0-9A-Za-z_\-]{20}"
    r"|eyJ[0-9A-Za-z_\-]{8,}\.[0-9A-Za-z_\-]{8,}\.[0-9A-Za-z_\-]{8,})\b")
PHONE_PUNCTUATION = re.compile(r"\(\d{1,4}\)|\d[\-.]\d")
SECRET_STOPWORDS = frozenset({"para", "por", "que", "de", "del", "the", "and", "com", "con", "esta", "está", "aqui",
                              "aquí", "nova", "nueva", "new", "segura", "secure", "correcta", "correta", "correct",
                              "incorrecta", "incorreta", "wrong", "expirada", "expired", "temporal", "temporaria",
                              "nao", "não", "no", "not", "mesma", "misma", "same", "cambiar", "trocar", "change",
                              "reset", "olvidada", "esquecida", "forgotten", "forgot", "errada", "mi", "minha", "my",
                              "tu", "sua", "your", "la", "a", "o", "el", "su"})


def card_brand(digits: str) -> str | None:
    for brand, ranges, lengths in CARD_BRANDS:
        if len(digits) not in lengths:
            continue
        for low, high in ranges:
            width = len(str(low))
            if low <= int(digits[:width]) <= high:
                return brand
    return None


def cards(text: str) -> Iterator[Finding]:
    """Luhn-valid card-shaped numbers with a known issuer range; or, next to a card word ("tarjeta",
    "cartão", "card", before or after it), with any issuer (a lower score): a compliance tool flags a card number it cannot
    name the brand of when the person says it is a card."""
    for m in CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if not luhn.is_valid(digits):
            continue
        brand = card_brand(digits)
        if brand:
            yield Finding("payment_card", m.start(), m.end(), 0.85, f"luhn+brand:{brand}", detail=brand)
        elif 13 <= len(digits) <= 19 and (has_context(text, m.start(), GENERIC["payment_card"])
                                           or has_context_after(text, m.end(), GENERIC["payment_card"])):
            yield Finding("payment_card", m.start(), m.end(), 0.7, "luhn+card-word", detail="unknown")


def emails(text: str) -> Iterator[Finding]:
    for m in EMAIL.finditer(text):
        yield Finding("email", m.start(), m.end(), 0.95, "email-syntax")


def ip_addresses(text: str) -> Iterator[Finding]:
    for pattern in (IPV4, IPV6):
        for m in pattern.finditer(text):
            try:
                ipaddress.ip_address(m.group())
            except ValueError:
                continue
            yield Finding("ip_address", m.start(), m.end(), 0.8, "ipaddress")


def urls_with_credentials(text: str) -> Iterator[Finding]:
    for m in URL_CREDENTIALS.finditer(text):
        yield Finding("url_credentials", m.start(), m.end(), 0.95, "url-userinfo")


def secrets(text: str) -> Iterator[Finding]:
    for m in SECRET_AFTER_WORD.finditer(text):
        value = m.group("value")
        if value.casefold() in SECRET_STOPWORDS or not _looks_secret(value):
            continue
        yield Finding("secret", m.start("value"), m.end("value"), 0.7, "keyword+value")
    for m in API_KEY.finditer(text):
        yield Finding("secret", m.start(), m.end(), 0.95, "api-key-prefix")


def _looks_secret(value: str) -> bool:
    """A password or code has a digit or a symbol, or is a long single token; plain words rarely are."""
    return any(not c.isalpha() for c in value) or len(value) >= 10


PHONE_CANDIDATE = re.compile(
    r"(?<![\w+])(?:\+|00)?\(?\d{1,4}\)?(?:[ \t.\-]{0,2}\(?\d{1,5}\)?){1,6}(?:[ ]?(?:x|ext\.?|ramal)[ ]?\d{1,5})?(?!\w)",
    re.IGNORECASE)


def phones(text: str, regions: tuple[str, ...], taken: list[tuple[int, int]] = (),
           context: bool = False, all_regions: bool = False,
           vetoed: Callable[[int], bool] = lambda start: False) -> Iterator[Finding]:
    """Candidates by one regex, confirmed by phonenumbers: first in the business number's country,
    in the other regions only when a phone word is nearby (`context`) or no country is known."""
    for m in PHONE_CANDIDATE.finditer(text):
        raw = m.group().rstrip(" .-")
        digits = sum(c.isdigit() for c in raw)
        if not 7 <= digits <= 15 or any(m.start() < e and s < m.start() + len(raw) for s, e in taken):
            continue
        if vetoed(m.start()):
            continue  # an order or tracking number: not worth a parse
        explicit = raw.startswith(("+", "00"))
        formatted = PHONE_PUNCTUATION.search(raw) is not None
        # With strong phone signals (+country, or phone punctuation next to a phone word) a *possible*
        # number counts (numbering plans change faster than the library); otherwise it must be *valid*.
        lenient = explicit or (formatted and context)
        tried = (None,) if explicit else regions if (context or all_regions) else regions[:1]
        number = _parse(raw, tried, lenient)
        if number is None:
            continue
        number_region = phonenumbers.region_code_for_number(number) or (regions[0] if regions else "")
        # A bare run of digits is as often an order number; without "+", phone punctuation or a
        # context word (which adds 0.1 later) it stays under the default reporting threshold.
        score = 0.8 if explicit else 0.6 if formatted else 0.45
        yield Finding("phone", m.start(), m.start() + len(raw), score, f"phonenumbers:{number_region}",
                      detail=number_region)


def _parse(raw: str, regions, lenient: bool = False) -> phonenumbers.PhoneNumber | None:
    possible = None
    for region in regions:
        try:
            number = phonenumbers.parse(raw.replace("00", "+", 1) if raw.startswith("00") else raw, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return number
        if lenient and possible is None and phonenumbers.is_possible_number(number):
            possible = number
    return possible


@functools.lru_cache(maxsize=4096)
def region_of(display_number: str | None) -> str | None:
    """ISO country of a business display number ('5215550001111' -> 'MX'); cached: a company has a few
    business numbers and every message asks."""
    if not display_number:
        return None
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse("+" + display_number.lstrip("+")))
    except phonenumbers.NumberParseException:
        return None
