"""Context words raise a finding's score; they never create a finding on their own (except where a
recognizer says it needs context, like the Colombian cédula)."""

from __future__ import annotations

import re
from functools import lru_cache

from chatwatch.detectors.normalize import fold

WINDOW = 40  # characters before the value
BOOST = 0.1

GENERIC = {
    "payment_card": ("tarjeta", "cartao", "credito", "debito", "card", "visa", "mastercard", "amex", "numero da tarjeta"),
    "phone": ("telefono", "tel", "tf", "telefone", "celular", "cel", "movil", "whatsapp", "zap", "llamar", "llame",
              "llama", "llamame", "marcame", "ligar", "liga", "me liga", "phone", "call", "mobile", "contacto", "contato"),
    "email": ("correo", "email", "e-mail", "mail"),
    "secret": ("contrasena", "senha", "password", "clave", "pin", "token", "codigo"),
}


# Words that make a number an order, tracking or case number rather than an identifier or a card:
# they veto a finding right after them unless the type's own context word is there too.
NEGATIVE = ("pedido", "orden", "order", "protocolo", "rastreio", "rastreamento", "rastreo", "guia", "tracking",
            "folio", "ticket", "chamado", "reclamo", "reclamacao", "expediente", "numero de caso", "caso no", "envio no",
            "nota fiscal", "factura", "invoice", "boleto")
NEGATIVE_WINDOW = 25
# Words that say a message is about paying: a card-shaped number there is a card first.
PAYMENT = ("pagar", "pago", "pague", "pagamento", "pagamos", "pay", "payment", "cobro", "cobrar", "cobranca", "compra",
           "cvv", "cvc", "vencimiento", "vencimento", "validade", "expira")


def has_context_after(text: str, end: int, words: tuple[str, ...], window: int = WINDOW) -> bool:
    """A context word in the window after the value ("9182… es mi número de tarjeta")."""
    return bool(words) and _words_regex(words).search(fold(text[end:end + window])) is not None


def has_negative_context(text: str, start: int) -> bool:
    return has_context(text, start, NEGATIVE, window=NEGATIVE_WINDOW)


@lru_cache(maxsize=256)
def _words_regex(words: tuple[str, ...]) -> re.Pattern[str]:
    """Each word at a word start, as a prefix ('telefono' also finds 'telefonos'); phrases as written."""
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + ")")


def has_context(text: str, start: int, words: tuple[str, ...], window: int = WINDOW) -> bool:
    """A context word (or a word it begins: 'telefono' -> 'telefonos') in the window before the value."""
    if not words:
        return False
    return _words_regex(words).search(fold(text[max(0, start - window):start])) is not None
