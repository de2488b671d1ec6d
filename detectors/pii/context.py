"""Context words raise a finding's score; they never create a finding on their own (except where a
recognizer says it needs context, like the Colombian cédula)."""

from __future__ import annotations

import re

from detectors.normalize import fold

_WORD = re.compile(r"[a-z0-9]+")

WINDOW = 40  # characters before the value
BOOST = 0.1

GENERIC = {
    "payment_card": ("tarjeta", "cartao", "credito", "debito", "card", "visa", "mastercard", "amex", "numero da tarjeta"),
    "phone": ("telefono", "tel", "tf", "telefone", "celular", "cel", "movil", "whatsapp", "zap", "llamar", "llame",
              "llama", "llamame", "marcame", "ligar", "liga", "me liga", "phone", "call", "mobile", "contacto", "contato"),
    "email": ("correo", "email", "e-mail", "mail"),
    "secret": ("contrasena", "senha", "password", "clave", "pin", "token", "codigo"),
}


def has_context(text: str, start: int, words: tuple[str, ...]) -> bool:
    """A context word (or a word it begins: 'telefono' -> 'telefonos') in the window before the value."""
    if not words:
        return False
    before = fold(text[max(0, start - WINDOW):start])
    tokens = _WORD.findall(before)
    glued = before.replace(" ", "")
    for w in words:
        if " " in w or "." in w:
            if w in before or w.replace(" ", "") in glued:
                return True
        elif any(t.startswith(w) for t in tokens):
            return True
    return False
