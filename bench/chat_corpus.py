"""A seeded corpus of customer-service chat lines as people type them, for PII evaluation.

Unlike the structured corpus in eval_pii.py (one value per message, in a template), ~90% of these
lines hold no personal data and carry what trips detectors on real chat: greetings and closings
capitalized on their own line ("Abraço", "Grato"), courtesy words, place names in delivery
questions ("frete para Pacheco"), order, protocol and tracking numbers, amounts, dates and times.
The other ~10% hold a value: names at the start, middle or end of a line, identifiers with and
without their word, cards after a card word (some of issuers no range list knows), e-mail, phones.
Faker gives the names, places and values; everything else is written here, in es, pt and en.
"""

from __future__ import annotations

import random
import re

from faker import Faker
from stdnum import luhn

LOCALES = {"es_MX": ("es", "MX"), "pt_BR": ("pt", "BR"), "es_ES": ("es", "ES"), "en_US": ("en", "US")}

GREETINGS = {
    "es": ["Hola", "Buenas tardes", "Buenos días", "Hola, buen día", "Qué tal", "Buenas"],
    "pt": ["Oi", "Olá", "Bom dia", "Boa tarde", "Oi, tudo bem?", "Boa noite"],
    "en": ["Hi", "Hello", "Good morning", "Hey there"],
}
CLOSINGS = {
    "es": ["Gracias", "Muchas gracias!", "Saludos", "Quedo atento", "Disculpe la molestia", "Un abrazo",
           "Perfecto, gracias", "Bendiciones", "Atentamente"],
    "pt": ["Abraço", "Grato", "Muito obrigado", "Obrigada!", "Valeu", "Beijos", "Atenciosamente", "Desculpe",
           "Fico no aguardo"],
    "en": ["Thanks", "Thank you!", "Regards", "Cheers", "Sorry for the trouble", "Best"],
}
QUESTIONS = {
    "es": ["¿Tienen en azul?", "¿Cuánto cuesta la talla M?", "¿A qué hora abren?", "¿Hacen envío a {city}?",
           "¿Cuánto sale el envío a {city}?", "Mi pedido {order} no ha llegado", "El pedido {order} llegó incompleto",
           "La guía {tracking} no aparece", "El total es ${amount}", "Nos vemos el {date} a las {time}",
           "Ya hice el pago de ${amount}", "Me llegó la factura {order}", "Folio {order}, ¿me ayudan?",
           "¿Entregan en {city} el sábado?"],
    "pt": ["Tem em azul?", "Qual o frete para {city}?", "Vocês entregam em {city}?", "Meu pedido {order} não chegou",
           "Protocolo {order}, alguma novidade?", "O rastreio {tracking} não atualiza", "O total ficou R$ {amount}",
           "Já fiz o pix de R$ {amount}", "Te vejo dia {date} às {time}", "Tem entrega para {city} amanhã?",
           "Chegou a nota fiscal {order}", "Tem tamanho G?"],
    "en": ["Is this still available?", "Do you ship to {city}?", "Order {order} hasn't arrived",
           "Tracking {tracking} shows nothing", "Total is ${amount}", "See you on {date} at {time}",
           "Ticket {order} is still open", "Can you deliver to {city}?"],
}
NAME_LINES = {  # {n}: a person's name, somewhere in the line
    "es": ["Soy {n}, tengo una duda con mi compra", "Hola, habla {n}", "{n} aquí, ¿me pueden ayudar?",
           "Le escribe {n} por el reembolso", "Hablé con {n} ayer y no me resolvió", "Gracias, {n}",
           "Por favor que me atienda {n}", "Mi nombre es {n}"],
    "pt": ["Oi, aqui é {n}", "Sou {n} e preciso de ajuda", "{n} falando, o pedido chegou?",
           "Falei com {n} ontem", "Obrigada, {n}", "Meu nome é {n}", "Pode pedir para {n} me ligar?"],
    "en": ["Hi, this is {n}", "{n} here, any update?", "I spoke with {n} yesterday", "Thanks {n}!",
           "My name is {n}", "Please ask {n} to call me"],
}
VALUE_LINES = {  # {w}: the type's word or nothing; {v}: the value
    "es": ["mi {w} es {v}", "te paso el {w} {v}", "{v} es mi {w}", "anota {v} porfa", "{w}: {v}"],
    "pt": ["meu {w} é {v}", "segue o {w} {v}", "anota aí {v}", "{w}: {v}", "o {w} é {v} blz"],
    "en": ["my {w} is {v}", "here's the {w}: {v}", "{v} is my {w}", "use {v} thanks"],
}
WORDS = {
    "br_cpf": {"pt": "CPF", "es": "CPF", "en": "CPF"}, "mx_curp": {"es": "CURP", "pt": "CURP", "en": "CURP"},
    "mx_rfc": {"es": "RFC", "pt": "RFC", "en": "RFC"}, "es_dni": {"es": "DNI", "pt": "DNI", "en": "DNI"},
    "payment_card": {"es": "número de tarjeta", "pt": "número do cartão", "en": "card number"},
    "email": {"es": "correo", "pt": "email", "en": "email"}, "phone": {"es": "celular", "pt": "whatsapp", "en": "phone"},
}


def unknown_issuer_card(rng: random.Random) -> str:
    """16 Luhn-valid digits starting with 9 (no issuer range list has it): a card only by its word."""
    body = "9" + "".join(rng.choice("0123456789") for _ in range(14))
    return body + luhn.calc_check_digit(body)


def build(n: int, seed: int, pii_share: float = 0.1) -> list[tuple[str, str, str, list[tuple[str, int, int]]]]:
    """n lines as (text, lang, region, gold spans (type, start, end))."""
    rng = random.Random(seed)
    fakers = {loc: Faker(loc) for loc in LOCALES}
    for i, f in enumerate(fakers.values()):
        f.seed_instance(seed + i)
    values = {
        "br_cpf": ("pt_BR", lambda: fakers["pt_BR"].cpf()), "mx_curp": ("es_MX", lambda: fakers["es_MX"].curp()),
        "mx_rfc": ("es_MX", lambda: fakers["es_MX"].rfc()), "es_dni": ("es_ES", lambda: fakers["es_ES"].nif()),
        "payment_card": ("en_US", lambda: fakers["en_US"].credit_card_number() if rng.random() < 0.7
                         else unknown_issuer_card(rng)),
        "email": ("en_US", lambda: fakers["en_US"].free_email()), "phone": ("pt_BR", lambda: fakers["pt_BR"].cellphone_number()),
    }
    out = []
    for _ in range(n):
        loc = rng.choice(list(LOCALES))
        lang, region = LOCALES[loc]
        fake = fakers[loc]
        gold: list[tuple[str, int, int]] = []
        if rng.random() >= pii_share:
            parts = [rng.choice(QUESTIONS[lang]).format(
                city=fake.city(), order=rng.randint(10**5, 10**12), tracking=f"{fake.bothify('??#########??').upper()}",
                amount=f"{rng.randint(10, 9999)},{rng.randint(0, 99):02d}", date=f"{rng.randint(1, 28)}/{rng.randint(1, 12)}",
                time=f"{rng.randint(8, 20)}:{rng.choice(['00', '15', '30'])}")]
            if rng.random() < 0.35:
                parts.insert(0, rng.choice(GREETINGS[lang]) + rng.choice([", ", "! ", "\n"]))
            if rng.random() < 0.35:
                parts.append(rng.choice([" ", "\n", ". "]) + rng.choice(CLOSINGS[lang]))
            out.append(("".join(parts), lang, region, gold))
            continue
        if rng.random() < 0.4:
            name = fake.name() if rng.random() < 0.6 else fake.first_name()
            text = rng.choice(NAME_LINES[lang]).format(n=name)
            start = text.index(name)
            gold.append(("person", start, start + len(name)))
        else:
            kind = rng.choice(list(values))
            _, make = values[kind]
            value = make()
            if kind == "phone":
                region = "BR"
            unknown_issuer = kind == "payment_card" and value.startswith("9")  # a card only by its word
            word = WORDS[kind][lang] if unknown_issuer or rng.random() < 0.6 else ""
            lines = [t for t in VALUE_LINES[lang] if "{w}" in t] if unknown_issuer else VALUE_LINES[lang]
            text = re.sub(r"[ \t]+", " ", rng.choice(lines).format(w=word, v=value)).strip(" :")
            start = text.index(value)
            gold.append((kind, start, start + len(value)))
        if rng.random() < 0.3:
            closing = rng.choice(CLOSINGS[lang])
            text = text + rng.choice(["\n", ". "]) + closing
        out.append((text, lang, region, gold))
    return out
