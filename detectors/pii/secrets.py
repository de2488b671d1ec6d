"""Passwords, PINs, one-time codes and API keys written into a chat.

People do not write "senha: X". They write "a senha do portal é Centro2026!", "la clave del banco es
Tigre99#", "o código que chegou no seu celular é 482913", "482913 es tu código". So a secret is a
secret word, then up to a few words of the same sentence ("do portal", "que chegou no seu celular"),
then a copula or a colon ("é", "es", "is", "era", "fica", ":", "="), then a value that looks like a
secret (a digit or a symbol in it; letters only when mixed case) — or the value right after the word
("senha abacaxi77"), or before "es tu código". "Code" words count only with a verification
qualifier: "código do pedido é 123456" is an order, "código de verificação é 123456" a secret.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

from chatwatch.detectors.pii.findings import Finding

# Password words, folded ("contrasena" for contraseña): each is a secret word on its own.
PASSWORD_WORDS = ("contrasena", "contrasenas", "senha", "senhas", "password", "passwords", "passwd", "pwd", "clave",
                  "claves", "pin", "nip", "token", "passcode", "otp", "2fa", "cvv", "cvv2", "cvc", "cvc2")
# Words that name a secret only right before a colon or "=": "user: ana pass: Tigre99" (not "I'll pass").
LABEL_WORDS = ("pass", "pw", "psw", "contra", "senh", "clav")
# Code words: a secret word only next to a qualifier ("de verificación", "que te llegó", "one-time").
CODE_WORDS = ("codigo", "codigos", "code", "codes", "cod")
QUALIFIERS = ("verifica", "valida", "acces", "acess", "access", "segur", "secur", "confirma", "autentica", "authentica",
              "auth", "ingreso", "login", "sms", "2fa", "otp", "token", "one-time", "onetime", "unico", "solo uso",
              "seguranca", "llego", "llega", "chego", "chega", "envia", "enviamos", "enviado", "mandamos", "mandaram",
              "recibi", "recebe", "recebi", "received", "sent you", "we sent", "you got", "por sms", "via sms")
NOT_SECRET_CODES = ("pedido", "rastre", "seguimiento", "postal", "barra", "promo", "descont", "descuent", "cupom", "cupon",
                    "coupon", "produto", "producto", "product", "referencia", "reference", "reserva", "booking", "order",
                    "tracking", "discount", "zip", "cliente", "customer", "boleto", "fiscal", "area", "pais", "country",
                    "fonte", "fuente", "source", "qr", "envio")
# What comes between the secret words and the value: a copula or a separator.
COPULAS = frozenset({"es", "e", "é", "eh", "is", "are", "was", "era", "será", "sera", "sería", "seria", "fica", "queda",
                     "quedó", "ficou", "sigue", "segue", "son", "sao", "são", ":", "=", "->", "→", "=>", "vale"})
ARTICLES = frozenset({"el", "la", "lo", "los", "las", "o", "a", "os", "as", "the", "un", "una", "um", "uma", "tu", "su",
                      "sua", "seu", "your", "mi", "minha", "meu", "my", "nuestra", "nossa", "our", "ahora", "agora",
                      "now", "nueva", "nova", "new", "actual", "atual", "current"})
# Words after a copula that are not the value: "la contraseña es muy larga", "a senha é nova".
STOPWORDS = frozenset({"para", "por", "que", "de", "del", "the", "and", "com", "con", "esta", "está", "aqui", "aquí",
                       "nova", "nueva", "new", "segura", "secure", "correcta", "correta", "correct", "incorrecta",
                       "incorreta", "wrong", "expirada", "expired", "temporal", "temporaria", "temporária", "nao", "não",
                       "no", "not", "mesma", "misma", "same", "cambiar", "trocar", "change", "reset", "olvidada",
                       "esquecida", "forgotten", "forgot", "errada", "mi", "minha", "my", "tu", "sua", "your", "la",
                       "a", "o", "el", "su", "muy", "muito", "very", "personal", "pessoal", "privada", "private",
                       "valida", "válida", "invalida", "inválida", "invalid", "valid", "obligatoria", "obrigatória",
                       "required", "larga", "longa", "long", "corta", "curta", "short", "igual", "diferente"})
FILLERS_MAX = 9  # words between the secret word and the copula ("que chegou no seu celular")
_TOKEN = re.compile(r"\S+")
_WORD = re.compile(r"(?<!\w)(?:" + "|".join(sorted({*PASSWORD_WORDS, *CODE_WORDS, *LABEL_WORDS}, key=len, reverse=True))
                   + r")(?!\w)")
_EDGE_OPEN = "\"'“‘«(<[*_:="
_EDGE_CLOSE = "\"'”’»)>]*_,;.?:"
_SENTENCE_END = re.compile(r"[.?!;]$")

# What every API_KEY alternative starts with: no prefix in the text, no key to look for.
KEY_PREFIXES = ("sk_live_", "rk_live_", "AKIA", "ASIA", "ghp_", "github_pat_", "xox", "AIza", "glpat-", "eyJ")
API_KEY = re.compile(
    r"\b(?:sk_live_[0-9A-Za-z]{16,}|rk_live_[0-9A-Za-z]{16,}|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|ghp_[0-9A-Za-z]{36}"
    r"|github_pat_[0-9A-Za-z_]{40,}|xox[abprs]-[0-9A-Za-z\-]{10,}|AIza[0-9A-Za-z_\-]{35}|glpat-[0-9A-Za-z_\-]{20}"
    r"|eyJ[0-9A-Za-z_\-]{8,}\.[0-9A-Za-z_\-]{8,}\.[0-9A-Za-z_\-]{8,})\b")
# Lower-cased beginnings of every secret word and key prefix: the detector's cheap prefilter.
HINTS = ("contrase", "senha", "password", "passwd", "pwd", "clave", "pin", "nip", "token", "passcode", "otp", "2fa",
         "cvv", "cvc", "codigo", "código", "code", "cod", *(w + sep for w in LABEL_WORDS for sep in (":", "=", " :")),
         *(p.lower() for p in KEY_PREFIXES))


def secrets(text: str) -> Iterator[Finding]:
    """Secret values after (or right before) a secret word, and API keys by their prefix."""
    folded = _flat(text)
    words = [(m.start(), m.end()) for m in _WORD.finditer(folded)]
    seen: set[tuple[int, int]] = set()
    for start, end in words:
        if folded[start:end] in CODE_WORDS and not _qualified(folded, start, end):
            continue
        if folded[start:end] in LABEL_WORDS and not folded[end:end + 3].lstrip().startswith((":", "=")):
            continue
        for found in (_after(text, end), _before(text, start)):
            if found and (found.start, found.end) not in seen:
                seen.add((found.start, found.end))
                yield found
    for m in API_KEY.finditer(text):
        yield Finding("secret", m.start(), m.end(), 0.95, "api-key-prefix")


def _after(text: str, end: int) -> Finding | None:
    """The value after the secret word: right after it (or after "de X" and a colon), or after a copula
    within the sentence."""
    fillers, copula, colon = 0, False, False
    for m in _TOKEN.finditer(text, end):
        raw = m.group()
        token = raw.strip(_EDGE_OPEN + _EDGE_CLOSE).lower()
        if copula:
            if token in ARTICLES:
                continue  # "la clave es la 4411": the article before the value
            ends = not text[m.end():].strip() or text[m.end() - 1] in ",.;!?" or text[m.end()] == "\n"
            found = _value(text, m.start(), m.end(), 0.7, letters=True, any_letters=colon and ends)
            if found:
                return found
            copula = colon = False  # "a senha é a mesma de sempre: gato2020": a later colon may still give it
        if fillers == 0 and not _is_copula(token) and not raw.endswith((":", "=")):
            found = _value(text, m.start(), m.end(), 0.75)  # "senha abacaxi77"
            if found:
                return found
        if raw.endswith((":", "=")):  # "clave del banco: X", "senha=X", "senha:"
            copula = colon = True
            continue
        if _is_copula(token) or raw in COPULAS:
            copula = True
            continue
        fillers += 1
        if any(c.isdigit() for c in raw):  # "clave del banco Tigre99#", "código de acceso 8812"
            return _value(text, m.start(), m.end(), 0.65) if fillers <= 3 else None
        if fillers > FILLERS_MAX or _SENTENCE_END.search(raw):
            return None
    return None


_BEFORE = re.compile(r"(?P<value>\S{3,64})\s+(?:es|é|e|is|era|será|sera)\s+(?:(?:el|la|o|a|the|tu|su|sua|seu|your|"
                     r"mi|minha|meu|my|nuevo|nueva|novo|nova|new)\s+){0,2}$", re.IGNORECASE)


def _before(text: str, start: int) -> Finding | None:
    """"482913 es tu código", "Tigre99# é a senha": the value before a copula before the word."""
    m = _BEFORE.search(text, max(0, start - 90), start)
    if m is None:
        return None
    return _value(text, m.start("value"), m.end("value"), 0.7)


def _value(text: str, start: int, end: int, score: float, letters: bool = False,
           any_letters: bool = False) -> Finding | None:
    while start < end and text[start] in _EDGE_OPEN:
        start += 1
    while end > start and text[end - 1] in _EDGE_CLOSE:
        end -= 1
    value = text[start:end]
    if not 3 <= len(value) <= 64 or value.lower() in STOPWORDS or _NOT_SECRET_SHAPE.match(value):
        return None
    if not looks_secret(value, letters) and not (any_letters and len(value) >= 4 and value.isalpha()):
        return None  # letters alone count after an explicit colon, ending the phrase ("minha senha: abacaxi")
    return Finding("secret", start, end, score, "keyword+value")


# Prices, percentages, times, dates and offers: "la clave es 20%", "PIN de entrega: 10:30", "2x1".
_NOT_SECRET_SHAPE = re.compile(r"^(?:(?:R\$|US\$|[$€£])\s?\d[\d.,]*|\d[\d.,]*\s?(?:%|€|\$|£|reais|pesos|euros)"
                               r"|\d{1,2}[:h]\d{2}(?:hs?)?|\d{1,2}[/.-]\d{1,2}(?:[/.-]\d{2,4})?|\d+x\d+)$", re.IGNORECASE)


def looks_secret(value: str, letters: bool = False) -> bool:
    """A password or code has a digit or a symbol. Letters alone count only after a copula and in mixed
    case ("la clave es CasaAzul"; right after the word, "contraseña WhatsApp" is a brand). Hyphenated
    or dotted words ("wi-fi", "e-mail", "Sr.") are words, not secrets."""
    if any(c.isdigit() for c in value):
        return True
    if any(not c.isalnum() and c not in "-'’." for c in value):
        return True
    return (letters and len(value) >= 6 and any(c.isupper() for c in value[1:])
            and any(c.islower() for c in value))


def _flat(text: str) -> str:
    """Lower case without accents, one character for one (offsets stay those of `text`)."""
    if text.isascii():
        return text.lower()
    return "".join(map(_flat_char, text))


@lru_cache(maxsize=4096)
def _flat_char(ch: str) -> str:
    base = unicodedata.normalize("NFKD", ch)[:1].lower()
    return base if len(base) == 1 else ch


def _is_copula(token: str) -> bool:
    return token in COPULAS


def _qualified(folded: str, start: int, end: int) -> bool:
    """A code word is a secret word when a verification word is near it and no order word is."""
    window = folded[max(0, start - 25):min(len(folded), end + 45)]
    return any(q in window for q in QUALIFIERS) and not any(n in window for n in NOT_SECRET_CODES)
