"""Other projects' PII test vectors (../shared/fixtures/pii-vectors) through our detector.

valid -> found with the right type (covering the expected span when the source gives one);
invalid -> not flagged as that type. Entity types chatwatch does not detect are listed with the
reason, so the gap is visible rather than silently skipped.
"""

from __future__ import annotations

import json

import pytest

from chatwatch.detectors.pii import PiiConfig, PiiDetector
from tests.conftest import shared_fixture_dir

TYPE = {
    "AR_CUIL": "ar_cuit", "AR_CUIT": "ar_cuit", "BR_CNPJ": "br_cnpj", "BR_CPF": "br_cpf", "CL_RUT": "cl_rut",
    "CO_NIT": "co_nit", "CREDIT_CARD": "payment_card", "EMAIL_ADDRESS": "email", "ES_DNI": "es_dni",
    "ES_DNI_NIE": ("es_dni", "es_nie"), "ES_NIE": "es_nie", "ES_NIF": ("es_nif", "es_dni", "es_nie"), "IBAN": "iban",
    "IBAN_CODE": "iban", "IP_ADDRESS": "ip_address", "LUHN": "payment_card", "MX_CURP": "mx_curp", "MX_RFC": "mx_rfc",
    "PHONE_NUMBER": "phone", "AR_PHONE_NUMBER": "phone", "ES_PHONE_NUMBER": "phone", "MX_PHONE_NUMBER": "phone",
    "INTL_PHONE_NUMBER_ES": "phone", "INTL_PHONE_NUMBER_PT": "phone", "URL": None,
}
NOT_DETECTED = {
    "AR_DNI": "no checksum; a bare 7-8 digit number is not told apart from order numbers",
    "PE_DNI": "Peru is not among the countries this issue covers",
    "PT_NIF_CC": "Portugal's ids are not in scope (Brazil, Mexico, Spain, Southern Cone, Colombia are)",
    "ES_PASSPORT": "no checksum; format alone is too weak in chat",
    "ES_BANK_ACCOUNT_CCC": "the pre-IBAN CCC; IBAN covers current account numbers",
    "CRYPTO": "crypto wallets are not in scope", "CRYPTO_BITCOIN": "crypto wallets are not in scope",
}
# Vector files that are not plain identifiers: Luhn test numbers are not all card numbers, URLs are not PII.
PARTIAL = {
    "luhn.stdnum.json": "Luhn vectors include short numbers no card brand issues",
    "url.presidio.json": "a URL is PII only with credentials in it (url_credentials)",
}


KNOWN_MISSES = {
    ("es_phone_number.pii-extract-plg-regex.json", "Llamada al 016 en la lista"): "a 3-digit public service line",
    ("phone_number.presidio.json", "My CN number is 13812345678"): "a bare digit run with no phone word or punctuation",
    ("iban_code.presidio.json", "BE68539007547034"): "python-stdnum also checks the Belgian account digit, which fails",
    ("phone_number.presidio.json", "My US number is (415) 555-0132, and my international one is415-555-0132"):
        "the second number is glued to a word; the first is found",
    ("phone_number.presidio.json", "My US number is (415) 555-0132, and my international one is 91-415-555-0132"):
        "a country code without '+' or 00 is not dialable as written; the first number is found",
}
# Where the sources' expectations and ours differ on purpose.
DIFFERENT_ON_PURPOSE = {
    ("intl_phone_number_es.pii-extract-plg-regex.json", "+34983453999"): "a +country number is a phone whatever precedes it",
    ("intl_phone_number_pt.pii-extract-plg-regex.json", "+34983453999"): "a +country number is a phone whatever precedes it",
    ("ip_address.pii-extract-plg-regex.json", "10.45.122.65"): "private addresses are still addresses (Presidio agrees)",
    ("iban_code.presidio.json", "LV80 bANK 0000 4351 9500 1"): "people type IBANs in lowercase too (python-stdnum agrees)",
}


@pytest.fixture(scope="module")
def detector() -> PiiDetector:
    return PiiDetector(PiiConfig(ner=False))


def _files():
    return sorted(shared_fixture_dir("pii-vectors").glob("*.json"))


def _types(entity: str) -> tuple[str, ...]:
    t = TYPE[entity]
    return t if isinstance(t, tuple) else (t,)


def _region(entity: str, text: str) -> str | None:
    """The business number's country the detector would be given for such a message."""
    prefix = entity.split("_")[0]
    named = {"Israeli": "IL", "Japanese": "JP", "CN number": "CN", "UK": "GB"}
    return {"AR": "AR", "MX": "MX", "ES": "ES", "BR": "BR", "CL": "CL", "CO": "CO"}.get(prefix) or next(
        (r for k, r in named.items() if k in text), None)


# Bare identifiers whose checksum is weak (one mod-11 digit) are only reported with a context word
# or their usual punctuation; the doctest vectors are bare, so the test writes them as a person would.
CONTEXT_PREFIX = {"co_nit.stdnum.json": "NIT ", "cl_rut.stdnum.json": "RUT ", "mx_rfc.stdnum.json": "RFC "}


def test_every_vector_file_is_accounted_for():
    for path in _files():
        entity = json.loads(path.read_text())["entity"]
        assert entity in TYPE or entity in NOT_DETECTED, f"{path.name}: decide how {entity} is detected"


def _detected_files():
    """(file name, parsed vectors) of every file whose entity chatwatch detects."""
    for path in _files():
        doc = json.loads(path.read_text())
        if doc["entity"] in NOT_DETECTED or path.name in PARTIAL or TYPE.get(doc["entity"]) is None:
            continue
        yield path, doc


def test_valid_vectors_are_found_with_the_right_type(detector: PiiDetector):
    misses = []
    for path, doc in _detected_files():
        entity = doc["entity"]
        spans = {c["text"]: c.get("span_text") for c in doc.get("cases", []) if "text" in c}
        for text in (CONTEXT_PREFIX.get(path.name, "") + v for v in doc["valid"]):
            found = detector.patterns(text, _region(entity, text))
            got = [text[f.start:f.end] for f in found if f.type in _types(entity)]
            wanted = spans.get(text) or []
            if (path.name, text) in KNOWN_MISSES:
                continue
            # spans may differ in convention ("192.168.1.0/24" vs the address): one must contain the other
            covered = all(any(w in g or g in w for g in got) for w in wanted if isinstance(w, str))
            if not got or not covered:
                misses.append((path.name, text, got))
    assert not misses, f"{len(misses)} valid vectors missed, e.g. {misses[:8]}"


def test_invalid_vectors_are_not_flagged(detector: PiiDetector):
    flagged = []
    for path, doc in _detected_files():
        entity = doc["entity"]
        for text in doc["invalid"]:
            region = _region(entity, text)
            found = [f for f in detector.patterns(text, region) if f.type in _types(entity)]
            if entity.endswith("PHONE_NUMBER") and region:  # a valid number of another country is still a phone
                found = [f for f in found if f.detail == region]
            if any((path.name, text[f.start:f.end]) in DIFFERENT_ON_PURPOSE for f in found):
                continue
            if found:
                flagged.append((path.name, text, [text[f.start:f.end] for f in found]))
    assert not flagged, f"{len(flagged)} invalid vectors flagged, e.g. {flagged[:8]}"
