"""Secrets in free phrasing: the secret word, a few words of the same sentence, a copula, the value —
in es/pt/en — without flagging the ordinary sentences that mention passwords and codes."""

from __future__ import annotations

import pytest

from chatwatch.detectors.pii import PiiConfig, PiiDetector
from chatwatch.detectors.redaction import redact

DETECTOR = PiiDetector(PiiConfig(ner=False))


@pytest.mark.parametrize(("text", "secret"), [
    ("A senha do portal é Centro2026! não passa pra ninguém", "Centro2026!"),
    ("la clave del banco es Tigre99#", "Tigre99#"),
    ("o código que chegou no seu celular é 482913", "482913"),
    ("482913 es tu código de verificación", "482913"),
    ("el código de verificación es 551902", "551902"),
    ("The verification code you got is 551234", "551234"),
    ("Your one-time code: 889911", "889911"),
    ("my password for the CRM is hunter22x don't share it", "hunter22x"),
    ("A SENHA É: casa#123", "casa#123"),
    ("te paso la clave: 4411-XZ", "4411-XZ"),
    ("a senha do app é a mesma de sempre: gato2020", "gato2020"),
    ("mi contraseña nueva es Perro#2024.", "Perro#2024"),
    ("usuario juan y la clave es CasaAzul", "CasaAzul"),
    ("el NIP de mi tarjeta es 7391", "7391"),
    ("senha abacaxi77", "abacaxi77"),
    ("PIN: 0451", "0451"),
])
def test_secret_in_free_phrasing_is_found_and_redacted(text: str, secret: str):
    found = [f for f in DETECTOR.detect(text) if f.type == "secret"]
    assert [text[f.start:f.end] for f in found] == [secret]
    assert secret not in redact(text, found)


@pytest.mark.parametrize("text", [
    "a senha do wi-fi fica no balcão",
    "o código do pedido é 123456",
    "Tu código postal es 06600",
    "código de rastreio: BR123456789",
    "La clave del éxito es la paciencia",
    "Our passcode policy changed last week",
    "La contraseña es muy larga, ¿la puedo cambiar?",
    "Nunca te pediremos tu contraseña por WhatsApp",
    "troque a senha em 24 horas",
    "mude a senha até 15/12",
    "Esqueci minha senha do app",
    "el código de descuento es VERANO20",
    "The order code is 8812-AB",
])
def test_ordinary_sentences_about_passwords_and_codes_are_not_secrets(text: str):
    assert [text[f.start:f.end] for f in DETECTOR.detect(text) if f.type == "secret"] == []


@pytest.mark.parametrize(("text", "secret"), [
    ("minha senha: abacaxi", "abacaxi"),
    ("contraseña = perro", "perro"),
    ("password: correcthorsebattery", "correcthorsebattery"),
    ("Codigo de acceso 8812", "8812"),
    ("contraseña del wifi 12345678", "12345678"),
    ("clave del banco Tigre99#", "Tigre99#"),
    ("la contraseña de tu cuenta de Netflix del mes pasado es Pepe2024", "Pepe2024"),
    ("la clave que te di es Tigre99#", "Tigre99#"),
    ("user: ana pass: Tigre99", "Tigre99"),
    ("la contra: perro2020", "perro2020"),
    ("pw=hunter22", "hunter22"),
    ("mi cvv es 123", "123"),
    ("CVV: 4821", "4821"),
])
def test_more_phrasings(text: str, secret: str):
    assert [text[f.start:f.end] for f in DETECTOR.detect(text) if f.type == "secret"] == [secret]


@pytest.mark.parametrize("text", [
    "El precio de la clave es 30€", "ok, la clave es 20%", "la clave del éxito es 100% esfuerzo",
    "el precio del token es $5.00", "la clave: 2x1 en pizzas", "Pin de entrega: 10:30", "10:30 es la clave",
    "el código del banco es 0049", "el código del mensaje de error es 500", "El PIN de la tarjeta llega por correo",
    "La contraseña debe tener 8 caracteres", "Tu contraseña fue cambiada el 12/05/2024 a las 10:15",
    "la clave: paciencia y constancia",
    "I'll pass it to the team in 2 days", "en contra de 3 votos", "te paso el pase 12",
])
def test_prices_times_offers_and_error_codes_are_not_secrets(text: str):
    assert [text[f.start:f.end] for f in DETECTOR.detect(text) if f.type == "secret"] == []
