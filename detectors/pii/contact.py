"""Payment cards, e-mail, phone numbers, IP addresses, URLs with credentials (secrets: secrets.py).

Cards: Luhn alone flags many phone and order numbers, so a candidate must also have a length
its brand issues and a brand prefix (IIN ranges), and be written as one run or in groups.
Phones: phonenumbers' VALID leniency, with the business number's country as default region; the
forms WhatsApp and people use (+52 1 …, bare wa_id digits, local groupings) are normalised first, and
shapes that are something else (dates, prices, RG/CPF/DNI layouts, order words) never get a parse.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterator

import phonenumbers
from stdnum import luhn

from chatwatch.detectors.pii.context import (
    BOOST,
    GENERIC,
    NEGATIVE_WINDOW,
    PHONE_NEGATIVE,
    has_context,
    has_context_after,
)
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
PHONE_PUNCTUATION = re.compile(r"\(\d{1,4}\)|\d[\-.]\d")


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


# Digit groups joined by spaces, dots, dashes or parentheses (no-break spaces and hyphens too, as
# pasted from a contact card); never the hour of a time ("22-12-2025 10:30").
PHONE_CANDIDATE = re.compile(
    r"(?<![\w+])(?:\+|00)?\(?\d{1,4}\)?(?:[ \t.\-\u00a0\u2010\u2011\u2013]{0,3}\(?\d{1,5}\)?){1,6}"
    r"(?:[ ]?(?:x|ext\.?|ramal)[ ]?\d{1,5})?(?!\w|:\d)", re.IGNORECASE)
PHONE_EXTENSION = re.compile(r"[ ]?(?:x|ext|ramal)", re.IGNORECASE)
NON_DIGIT = re.compile(r"\D")
LIST_INDEX = re.compile(r"\d{1,2}(?:[.)]| ?-) ")  # "2. ", "3) ", "4 - " before a phone in a list
BARE = 0.45  # the score of a bare run of digits: under the default threshold without a phone word
# Shapes that are never a phone however the digits validate: an Argentine DNI, a Brazilian RG or a
# Chilean RUT ("12.345.678-9"), a CPF ("759 907 049-40"), a check digit after a dash ("12345678-9").
NOT_PHONE = re.compile(r"\d{1,2}(?:\.\d{3}){2,}(?:-\d{1,2})?|\d{3}[. ]\d{3}[. ]\d{3}[-. ]\d{2}|\d{7,9}-\d"
                       r"|\d{2}-\d{8}-\d|\d{5}-\d{3}|\d{1,2}(?: \d{3}){2,}|\d{1,3}(?:[. ]\d{3})*[. ]000")
# (...a CUIT, a CEP, thousands: "12 345 678", "550.000.000")
DATE = re.compile(r"(?:0?[1-9]|[12]\d|3[01])([./\- ])(?:0?[1-9]|1[0-2])\1(?:19|20)\d\d(?!\d)"
                  r"|(?:19|20)\d\d([./\- ])(?:0?[1-9]|1[0-2])\2(?:0?[1-9]|[12]\d|3[01])(?!\d)")
MONEY_SIGN = re.compile("[$€£]")
MONEY_AFTER = re.compile(r"\s?(?:,\d|pesos|reais|reales|euros|d[oó]lares|dollars|soles|mil\b|usd|mxn|brl|eur|ars|cop)",
                         re.IGNORECASE)
PLAIN_SEPARATORS = str.maketrans({"\u00a0": " ", "\u2010": "-", "\u2011": "-", "\u2013": "-"})
# Bare digits that start with a country code (a wa_id: "5215587654300") are read as international only
# for these countries and the business's own: with +1 every 11-digit run starting with 1 would validate.
WA_ID_REGIONS = ("MX", "BR", "ES", "AR", "CO", "CL", "PE")
MOBILE = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
IS_POSSIBLE = phonenumbers.ValidationResult.IS_POSSIBLE  # not "possible locally": "+10000000" is no phone
Parsed = tuple[phonenumbers.PhoneNumber, str]  # a number and the region it is valid in ("" if only possible)


def phones(text: str, regions: tuple[str, ...], taken: list[tuple[int, int]] = (),
           context: bool = False, all_regions: bool = False,
           vetoed: Callable[[int], bool] = lambda start: False, min_score: float = 0.0) -> Iterator[Finding]:
    """Candidates by one regex, confirmed by phonenumbers: first in the business number's country,
    in the other regions only when a phone word is nearby (`context`) or no country is known; bare
    digits that begin with a country code as WhatsApp writes them (wa_id). A candidate that could not
    score `min_score` even with its context word is not parsed."""
    tried = regions if (context or all_regions) else regions[:1]
    floor = min_score - (BOOST if context else 0.0)
    for m in PHONE_CANDIDATE.finditer(text):
        raw = m.group().rstrip(" .-")
        start = m.start()
        if any(start < e and s < start + len(raw) for s, e in taken) or vetoed(start):
            continue  # an identifier's digits, or an order or tracking number: not worth a parse
        if text[start - 1:start] in ("/", "=") and _in_url(text, start):
            continue  # a product or page id in a link (wa.me/… and phone=… are phones)
        found = _phone(text, start, raw, regions, tried, context, floor)
        if found is not None:
            yield found
        elif raw.count(" ") + raw.count("-") + raw.count(".") >= 3 and not raw.startswith(("+", "00")) and \
                not _something_else(text, start, raw.translate(PLAIN_SEPARATORS)):
            yield from _split(text, start, raw, regions, tried, context, floor)


def _phone(text: str, start: int, raw: str, regions: tuple[str, ...], tried: tuple[str, ...],
           context: bool, floor: float) -> Finding | None:
    """One candidate: +country, then wa_id, then local; None unless it validates and could be reported."""
    end = start + len(raw)
    main = PHONE_EXTENSION.split(raw, 1)[0].translate(PLAIN_SEPARATORS)
    digits = NON_DIGIT.sub("", main)
    explicit = main.startswith(("+", "00"))
    if explicit and main.startswith("00"):
        digits = digits[2:]
    if not 7 <= len(digits) <= 15 or _something_else(text, start, main):
        return None
    formatted = _grouped(main) and (PHONE_PUNCTUATION.search(main) is not None or main.count(" ") >= 2)
    wa_id = not explicit and len(digits) >= 11
    # With strong phone signals (+country, or phone punctuation next to a phone word) a *possible*
    # number counts (numbering plans change faster than the library); otherwise it must be *valid*.
    lenient = explicit or (formatted and context)
    if explicit:
        parsed = _parse(_mx_international(digits) or main, (None,), lenient)
    elif wa_id and (parsed := _wa_id(digits, regions, context)) is not None:
        if regions and parsed[1] != regions[0]:
            parsed = _parse(main, regions[:1]) or parsed  # valid at home too: the home reading
    elif formatted or BARE >= floor:
        wa_id = False
        parsed = _parse(main, tried, lenient)
    else:
        return None  # a bare run of digits and no phone word: it could not be reported
    if parsed is None:
        return None
    if not explicit and not context and has_context_after(text, end, PHONE_NEGATIVE, NEGATIVE_WINDOW):
        return None  # "5215587654300 es el pedido"
    number_region = parsed[1] or (regions[0] if regions else "")
    # A bare run of digits is as often an order number; without "+", a country code, phone
    # punctuation or grouping, or a context word (which adds 0.1 later) it stays under the
    # default reporting threshold.
    score = 0.8 if explicit else 0.6 if formatted or wa_id else BARE
    return Finding("phone", start, end, score, f"phonenumbers:{number_region}", detail=number_region)


def _split(text: str, start: int, raw: str, regions: tuple[str, ...], tried: tuple[str, ...],
           context: bool, floor: float) -> Iterator[Finding]:
    """Phones glued to what the regex took along: a list index ("2. 55 1234 5678", "3) (11) 98765-4321"),
    or a second number ("55 1234 5678 55 8765 4321": both halves of three groups or more, both valid;
    looser splits find phones in account and access-key numbers)."""
    groups = [g.start() for g in re.finditer(r"(?<![\d(+])[(+]?\d", raw)]  # where each group begins
    if LIST_INDEX.match(raw) and len(groups) >= 4:
        found = _phone(text, start + groups[1], raw[groups[1]:], regions, tried, context, floor)
        if found is not None:
            yield found
        return
    if len(NON_DIGIT.sub("", raw)) <= 15:
        return
    for k in range(3, len(groups) - 2):
        left = raw[:groups[k]].rstrip(" .-\t\u00a0\u2010\u2011\u2013")
        first = _phone(text, start, left, regions, tried, context, floor)
        second = first and _phone(text, start + groups[k], raw[groups[k]:], regions, tried, context, floor)
        if second:
            yield from (first, second)
            return


def _in_url(text: str, start: int) -> bool:
    """Inside a link's path or query, not after wa.me/ or phone= (WhatsApp's click-to-chat links)."""
    token = text[max(text.rfind(" ", 0, start), text.rfind("\n", 0, start)) + 1:start]
    return ("://" in token or token.startswith("www.")) and not token.endswith(("wa.me/", "phone="))


def _grouped(main: str) -> bool:
    """Grouped the way phones are written ("55 1234 5678", "(55) 1234-5678", "11 9 8765-4321"), not a
    version or a list ("10.2.3.4567"): at most one group of a single digit (a mobile 9 or 1), the last
    of two or more."""
    groups = re.findall(r"\d+", main)
    return len(groups) >= 2 and len(groups[-1]) >= 2 and sum(len(g) == 1 for g in groups) <= 1


def _something_else(text: str, start: int, main: str) -> bool:
    """A document, a date or a price, however its digits validate."""
    return NOT_PHONE.fullmatch(main) is not None or DATE.match(main) is not None or _money(text, start, start + len(main))


def _money(text: str, start: int, end: int) -> bool:
    """A currency sign right before or after, decimals or a currency word after ("1 234,50", "612 345 678
    pesos"): a price."""
    return (MONEY_SIGN.search(text, max(0, start - 3), start) is not None
            or MONEY_SIGN.search(text, end, end + 3) is not None or MONEY_AFTER.match(text, end) is not None)


def _mx_international(digits: str) -> str | None:
    """'+52 1 55 8765 4321' -> '+525587654321': Mexico dropped the mobile 1 in 2019, WhatsApp still
    writes it, and phonenumbers calls the old form invalid."""
    if len(digits) == 13 and digits.startswith("521"):
        return "+52" + digits[3:]
    return None


def _mx_national(digits: str) -> str | None:
    """The 10 digits behind the prefixes Mexico dropped in 2019 (044/045 mobile, 01 long distance, 1)."""
    for prefix in ("044", "045", "01", "1"):
        if len(digits) == 10 + len(prefix) and digits.startswith(prefix):
            return digits[len(prefix):]
    return None


@functools.lru_cache(maxsize=64)
def _wa_codes(home: str | None) -> frozenset[str]:
    """Country codes a bare run of digits may begin with: WA_ID_REGIONS' and the business's."""
    return frozenset(str(phonenumbers.country_code_for_region(r)) for r in (*WA_ID_REGIONS, *((home,) if home else ())))


def _wa_id(digits: str, regions: tuple[str, ...], any_type: bool) -> Parsed | None:
    """Bare digits read as +country number: a known country code, then a valid mobile number (any
    valid number next to a phone word). Country codes are prefix-free: one parse at most."""
    codes = _wa_codes(regions[0] if regions else None)
    for k in (1, 2, 3):
        if digits[:k] in codes:
            parsed = _parse(_mx_international(digits) or "+" + digits, (None,))
            if parsed is not None and (any_type or phonenumbers.number_type(parsed[0]) in MOBILE):
                return parsed
            return None
    return None


def _parse(raw: str, regions, lenient: bool = False) -> Parsed | None:
    """The first reading of `raw` valid in one of `regions` (None: by its +country code). Valid in
    the region it was read in: a number of a region sharing the code (+1) is not tried against 25 plans."""
    possible = None
    for region in regions:
        try:
            number = phonenumbers.parse(raw.replace("00", "+", 1) if raw.startswith("00") else raw, region)
        except phonenumbers.NumberParseException:
            continue
        home = region or phonenumbers.region_code_for_number(number)
        if home and phonenumbers.is_valid_number_for_region(number, home):
            return number, home
        if region == "MX" and (national := _mx_national(NON_DIGIT.sub("", raw))):
            number = phonenumbers.parse(national, region)
            if phonenumbers.is_valid_number_for_region(number, region):
                return number, region
        if lenient and possible is None and phonenumbers.is_possible_number_with_reason(number) == IS_POSSIBLE:
            possible = number, home or ""
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
