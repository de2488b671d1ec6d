"""Phone numbers as Mexicans, Brazilians, Spaniards, Argentines, Colombians and WhatsApp write them.

Each positive case names the number inside its sentence: the detector must report one `phone`
finding covering every digit of it, and redaction must leave none of its digit groups behind.
Negatives are the numbers a chat is full of that are not phones: orders, amounts, dates, documents.
"""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from chatwatch.cli import cli
from chatwatch.detectors.pii import PiiConfig, PiiDetector
from chatwatch.detectors.redaction import redact
from chatwatch.records import SnippetMode


@pytest.fixture(scope="module")
def detector() -> PiiDetector:
    return PiiDetector(PiiConfig(ner=False))


def _digit_span(text: str, number: str) -> tuple[int, int]:
    """From the number's first digit to its last: the part that must be covered."""
    start = text.index(number)
    digits = [i for i, c in enumerate(number) if c.isdigit()]
    return start + digits[0], start + digits[-1] + 1


POSITIVE = [
    # WhatsApp's Mexican 521: with and without "+", with and without spaces
    ("es", "mi cel es +52 1 55 8765 4321", None, "+52 1 55 8765 4321"),
    ("es", "mándame al 5215587654300", None, "5215587654300"),
    ("es", "mándame al 5215587654300", "MX", "5215587654300"),
    ("es", "escríbeme al +5215587654300 porfa", "MX", "+5215587654300"),
    ("es", "mi whats 52 1 33 1234 5678", "ES", "52 1 33 1234 5678"),
    ("en", "my phone is +52 1 81 2345 6789", "US", "+52 1 81 2345 6789"),
    # international forms with spaces, dots, dashes, parentheses, 00
    ("pt", "meu zap é +55 (11) 98765-4321", None, "+55 (11) 98765-4321"),
    ("es", "mi móvil es +34 612.345.678", None, "+34 612.345.678"),
    ("es", "+52-55-8765-4321 es mi celular", "BR", "+52-55-8765-4321"),
    ("es", "anota 0052 55 8765 4321", None, "0052 55 8765 4321"),
    ("es", "llámame al 0034 612 345 678", "MX", "0034 612 345 678"),
    ("es", "mi cel es +54 9 11 1234-5678", None, "+54 9 11 1234-5678"),
    ("es", "+57 300 123 4567 es el de mi mamá", "MX", "+57 300 123 4567"),
    ("en", "text me at +55 11 98765 4321 thanks", None, "+55 11 98765 4321"),
    ("es", "mi número +34 (91) 123 45 67", None, "+34 (91) 123 45 67"),
    ("es", "te paso el +52 (55) 8765 4321", None, "+52 (55) 8765 4321"),
    ("es", "te paso el (+52) 55 8765 4321", None, "52) 55 8765 4321"),
    # wa_id-style bare international digits
    ("pt", "meu número 5511987654321", None, "5511987654321"),
    ("pt", "me chama 5521998765432 blz", "BR", "5521998765432"),
    ("es", "escríbeme al 34612345678", None, "34612345678"),
    ("es", "contactame al 5491112345678", "AR", "5491112345678"),
    ("es", "mi número 573001234567", "CO", "573001234567"),
    ("en", "my whatsapp is 5215587654300", "US", "5215587654300"),
    # local forms of the business's country, and clearly formatted ones with no country known
    ("es", "mi número es 55 1234 5678", "MX", "55 1234 5678"),
    ("es", "mi número es 55 1234 5678", None, "55 1234 5678"),
    ("es", "ahí te va (55) 1234-5678", "MX", "(55) 1234-5678"),
    ("es", "ahí te va (55) 1234-5678", None, "(55) 1234-5678"),
    ("es", "Hola, soy de Monterrey: 81 1234 5678, gracias", "MX", "81 1234 5678"),
    ("es", "marca al 044 55 8765 4321", "MX", "044 55 8765 4321"),
    ("es", "mi cel 33.1234.5678", "MX", "33.1234.5678"),
    ("pt", "me chama no whats 11 9 8765-4321", "BR", "11 9 8765-4321"),
    ("pt", "pode ligar (21) 99876-5432", None, "(21) 99876-5432"),
    ("pt", "segue meu celular: 11 98765 4321", "BR", "11 98765 4321"),
    ("pt", "fala comigo no (11) 3456-7890", "BR", "(11) 3456-7890"),
    ("pt", "liga no 0800 123 4567", "BR", "0800 123 4567"),
    ("es", "llámame al 612 34 56 78", "ES", "612 34 56 78"),
    ("es", "mi fijo 91 123 45 67", "ES", "91 123 45 67"),
    ("es", "mi tlf 612 345 678", None, "612 345 678"),
    ("es", "llamame al 11 1234-5678", "AR", "11 1234-5678"),
    ("es", "mi celular es 300 123 4567", "CO", "300 123 4567"),
    ("es", "whatsapp 9 8765 4321", "CL", "9 8765 4321"),
    ("es", "whatsapp 9 8765 4321", None, "9 8765 4321"),
    ("en", "my number is (55) 1234-5678", "MX", "(55) 1234-5678"),
    ("en", "call me at 212-555-0123", "US", "212-555-0123"),
    # odd spacing, a word after the number, separators pasted from a contact card
    ("es", "mi cel 55  1234  5678", "MX", "55  1234  5678"),
    ("es", "mi cel 55 - 1234 - 5678", "MX", "55 - 1234 - 5678"),
    ("es", "mi cel (55)1234-5678", None, "(55)1234-5678"),
    ("es", "5512 345678 es mi celular", "MX", "5512 345678"),
    ("pt", "11987654321 é meu zap", "BR", "11987654321"),
    ("es", "mi cel es +52\u00a01\u00a055\u00a08765\u00a04321", None, "+52\u00a01\u00a055\u00a08765\u00a04321"),
    ("es", "mi cel 55\u20111234\u20115678", "MX", "55\u20111234\u20115678"),
    ("es", "mi cel es 55 1234 5678.", "MX", "55 1234 5678"),
    ("es", "te marco mañana, mi cel es 55 1234 5678 a las 14:30", "MX", "55 1234 5678"),
    # glued to a list index or to a second number, in a click-to-chat link
    ("es", "mis teléfonos:\n2. 55 1234 5678\n3. 33 1234 5678", "MX", "33 1234 5678"),
    ("pt", "3 - (11) 98765-4321", "BR", "(11) 98765-4321"),
    ("es", "mis números 55 1234 5678 55 8765 4321", "MX", "55 8765 4321"),
    ("es", "escríbeme https://wa.me/5215587654300", None, "5215587654300"),
    ("en", "https://api.whatsapp.com/send?phone=5511987654321", None, "5511987654321"),
    # next to an identifier and an order number, each keeps its own
    ("pt", "CPF 529.982.247-25, celular (11) 98765-4321", "BR", "(11) 98765-4321"),
    ("es", "mi celular 55 1234 5678 (pedido 12345)", "MX", "55 1234 5678"),
    ("pt", "pedido 12345, meu zap 11 98765-4321", "BR", "11 98765-4321"),
]


@pytest.mark.parametrize(("lang", "text", "region", "number"), POSITIVE, ids=[f"{c[0]}:{c[2]}:{c[3]}" for c in POSITIVE])
def test_phone_is_found_and_redacted(detector, lang, text, region, number):
    start, end = _digit_span(text, number)
    found = detector.detect(text, lang=lang, region=region)
    phones = [f for f in found if f.type == "phone" and f.start <= start and f.end >= end]
    assert phones, f"no phone covering {number!r}: {[(f.type, text[f.start:f.end]) for f in found]}"
    redacted = redact(text, found)  # the default everywhere: "[PHONE]"
    outside = text[:text.index(number)] + " " + text[text.index(number) + len(number):]
    left = [g for g in re.findall(r"\d+", number) if len(g) >= 2 and g in redacted and g not in outside]
    assert not left, f"{redacted!r} still shows {left}"
    assert redact(text, found, SnippetMode.mask).count("*") >= sum(c.isdigit() for c in number) - 4  # all but the tail


NEGATIVE = [
    # order, tracking and protocol numbers: the order word vetoes, before or after the number
    ("es", "pedido 5215587654300", None),
    ("es", "mi número de pedido es 5215587654300", "MX"),
    ("es", "El pedido 55 1234 5678 no llegó", "MX"),
    ("es", "5215587654300 es el número de pedido", None),
    ("pt", "protocolo 2025 1234 5678", "BR"),
    ("pt", "o rastreio 5511987654321 não atualiza", "BR"),
    ("es", "Folio 34612345678, ¿me ayudan?", "ES"),
    ("es", "la guía 5215587654300 no aparece", "MX"),
    ("en", "Order 5511987654321 ships tomorrow", None),
    ("en", "ticket 1 212 555 0123 is still open", "US"),
    ("pt", "nota fiscal 55 1198 7654 3210", "BR"),
    # amounts
    ("pt", "O total ficou R$ 1.234,56", "BR"),
    ("pt", "O total ficou R$ 12.345.678,90", None),
    ("es", "El total es $ 5,500.00", "MX"),
    ("es", "son 5 500 000 pesos", None),
    ("es", "son 12 345 678 pesos", None),
    ("es", "total: 1 234 567,89 €", "ES"),
    ("es", "cuesta 612 345 678 pesos", "ES"),
    ("en", "it was $1,234,567.89", "US"),
    # dates and times
    ("es", "Nos vemos el 12/10/2025 a las 14:30", None),
    ("es", "nos vemos el 22-12-2025 10:30", "MX"),
    ("es", "nos vemos el 22-12-2025 10:30", None),
    ("en", "see you 2025-12-22 10:30", None),
    ("pt", "Te vejo dia 12.10.2025 às 14:30", None),
    # documents: theirs, or nobody's (RG, Argentine DNI, a near-miss CPF)
    ("pt", "Meu CPF é 529.982.247-25", "BR"),
    ("pt", "CPF 52998224725", "BR"),
    ("pt", "CNPJ 11.222.333/0001-81", "BR"),
    ("es", "mi CURP: BOXW310820HNERXN09", "MX"),
    ("es", "tarjeta 4111 1111 1111 1111", None),
    ("pt", "meu RG 12.345.678-9", "BR"),
    ("pt", "meu RG é 23.456.789-0", None),
    ("pt", "RG 23456789-0", None),
    ("es", "mi DNI es 12.345.678", None),
    ("es", "DNI 12.345.678", "AR"),
    ("pt", "759 907 049-40 esse é o CPF", None),
    ("pt", "CPF 759.907.049-40", "BR"),
    ("es", "RUT 12.345.678-5", "CL"),
    # account numbers, links, versions, postal codes, a bare +count
    ("es", "CLABE 0121 8000 1234 5678 97", None),
    ("es", "mi cuenta 1234 5678 9012 34", None),
    ("es", "la referencia 5215587654300", "MX"),
    ("es", "mira https://tienda.com/p/5215587654300", None),
    ("es", "versión 10.2.3.4567", None),
    ("pt", "CEP 13010-111", None),
    ("en", "ISBN 978-3-16-148410-0", None),
    ("es", "+10000000 seguidores", None),
    ("es", "ganó 550.000.000", None),
    ("es", "llegó el 10 11 2025 a las 10", None),
    # bare digit runs with nothing phone-like about them
    ("es", "5587654321", "MX"),
    ("en", "ok 12345678901 done", None),
]


@pytest.mark.parametrize(("lang", "text", "region"), NEGATIVE, ids=[f"{c[0]}:{c[2]}:{c[1]}" for c in NEGATIVE])
def test_not_a_phone(detector, lang, text, region):
    found = detector.detect(text, lang=lang, region=region)
    assert [text[f.start:f.end] for f in found if f.type == "phone"] == []


def test_the_order_word_still_vetoes_with_a_country_code_in_the_digits(detector):
    """A wa_id-shaped order number is reported only when a phone word is there too."""
    assert not [f for f in detector.detect("pedido 5215587654300", region="MX") if f.type == "phone"]
    found = detector.detect("pedido 123, mi whatsapp 5215587654300", region="MX")
    assert [f.detail for f in found if f.type == "phone"] == ["MX"]


@pytest.mark.parametrize("text", ["mis números 55 1234 5678 55 8765 4321", "1. 55 1234 5678\n2. 55 8765 4321",
                                  "55 1234 5678/55 8765 4321"])
def test_two_numbers_side_by_side_are_two_phones(detector, text):
    found = [text[f.start:f.end] for f in detector.detect(text, region="MX") if f.type == "phone"]
    assert len(found) == 2 and found[0].endswith("55 1234 5678") and found[1] == "55 8765 4321"


def test_a_country_code_after_plus_is_not_an_identifier(detector):
    text = "anota +34 841010886 porfa"  # "34 841010886" is also a valid Argentine CUIT
    assert [(f.type, text[f.start:f.end]) for f in detector.detect(text, region="ES")] == [("phone", "+34 841010886")]


def test_the_home_country_decides_the_detail(detector):
    """Bare digits valid as a wa_id of one country and as a local number of the business's: the local reading."""
    (found,) = detector.detect("me chama 51987654321", region="BR")
    assert found.type == "phone" and found.detail == "BR"


def test_cli_takes_the_business_number(tmp_path):
    """`--number` (or a line's `number`) gives the region, as the scan agent's business display number does:
    "33 3456 7890" is a number in Mexico and in Brazil, and the business's country says which."""
    runner = CliRunner()

    def details(args: list[str]) -> list[str]:
        result = runner.invoke(cli, ["pii", "detect", "--no-ner", *args])
        assert result.exit_code == 0, result.output
        return [f["detail"] for line in result.output.splitlines() for f in json.loads(line)["findings"]]

    assert details(["--text", "meu fixo 33 3456 7890"]) == ["MX"]  # no country known: the first market
    assert details(["--number", "5511999990000", "--text", "meu fixo 33 3456 7890"]) == ["BR"]
    lines = tmp_path / "in.jsonl"
    lines.write_text(json.dumps({"text": "meu fixo 33 3456 7890", "number": "+55 11 99999-0000"}) + "\n"
                     + json.dumps({"text": "meu fixo 33 3456 7890"}) + "\n")
    assert details([str(lines), "--number", "5215550001111"]) == ["BR", "MX"]
