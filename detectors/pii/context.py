"""Context words raise a finding's score; they never create a finding on their own (except where a
recognizer says it needs context, like the Colombian cédula)."""

from __future__ import annotations

import re

from chatwatch.detectors.normalize import fold

WINDOW = 40  # characters before the value
BOOST = 0.1

GENERIC = {
    "payment_card": ("tarjeta", "cartao", "credito", "debito", "card", "visa", "mastercard", "amex", "numero da tarjeta"),
    "phone": ("telefono", "tel", "tf", "tlf", "telefone", "celular", "cel", "movil", "whatsapp", "whats", "wpp", "wsp",
              "zap", "llamar", "llame", "llama", "llamame", "marcame", "ligar", "liga", "ligue", "me liga", "phone",
              "call", "mobile", "contacto", "contato", "contact"),
    "email": ("correo", "email", "e-mail", "mail"),
    "secret": ("contrasena", "senha", "password", "clave", "pin", "token", "codigo"),
}


# Words that make a number an order, tracking or case number rather than an identifier or a card:
# they veto a finding right after them unless the type's own context word is there too.
NEGATIVE = ("pedido", "orden", "order", "protocolo", "rastreio", "rastreamento", "rastreo", "guia", "tracking",
            "folio", "ticket", "chamado", "reclamo", "reclamacao", "expediente", "numero de caso", "caso no", "envio no",
            "nota fiscal", "factura", "invoice", "boleto")
# ...and for phones, the other long numbers a sales chat is full of (a wa_id needs no phone word to count).
PHONE_NEGATIVE = (*NEGATIVE, "referencia", "reference", "transac", "comprobante", "recibo", "receipt", "contrato",
                  "numero de cliente", "cotizacion", "cotacao", "cep", "codigo postal", "codigo de barras")
NEGATIVE_WINDOW = 25
# Words that say a message is about paying: a card-shaped number there is a card first.
PAYMENT = ("pagar", "pago", "pague", "pagamento", "pagamos", "pay", "payment", "cobro", "cobrar", "cobranca", "compra",
           "cvv", "cvc", "vencimiento", "vencimento", "validade", "expira")


def has_context_after(text: str, end: int, words: tuple[str, ...], window: int = WINDOW) -> bool:
    """A context word in the window after the value ("9182… es mi número de tarjeta")."""
    return bool(words) and _words_regex(words).search(fold(text[end:end + window])) is not None


def has_negative_context(text: str, start: int) -> bool:
    return has_context(text, start, NEGATIVE, window=NEGATIVE_WINDOW)


def vetoed(text: str, start: int, rescue: tuple[str, ...], negative: tuple[str, ...] = NEGATIVE) -> bool:
    """An order or tracking word right before `start` ("pedido 1234…") and no `rescue` word (the type's own
    context words) in the context window. The same as `has_negative_context and not has_context`, with
    one fold where folding keeps offsets (an ASCII window without whitespace runs): every digit run asks."""
    window = text[max(0, start - WINDOW):start]
    folded = fold(window)
    if window.isascii() and len(folded) == len(window):
        near = folded[-NEGATIVE_WINDOW:]
    else:
        near = fold(text[max(0, start - NEGATIVE_WINDOW):start])
    return (_words_regex(negative).search(near) is not None
            and not (rescue and _words_regex(rescue).search(folded) is not None))


def _words_regex(words: tuple[str, ...]) -> re.Pattern[str]:
    """Each word at a word start, as a prefix ('telefono' also finds 'telefonos'); phrases as written.
    The words go in as a trie ("c(?:ar(?:d|tao)|el(?:ular)?)"): Python's regex engine tries every
    branch of a flat alternation at each word start, and a trie halves the time of the 80-word lists.
    Cached by the tuple's identity: the lists are module constants, and hashing an 80-word tuple on
    every call cost as much as the search."""
    cached = _REGEXES.get(id(words))
    if cached is None or cached[0] is not words:
        cached = _REGEXES[id(words)] = (words, re.compile(r"(?<![a-z0-9])" + _trie(words)))
    return cached[1]


_REGEXES: dict[int, tuple[tuple[str, ...], re.Pattern[str]]] = {}


def _trie(words: tuple[str, ...]) -> str:
    root: dict = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}  # a word ends here

    def emit(node: dict) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        group = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{group})?" if "" in node else group

    return emit(root)


def has_context(text: str, start: int, words: tuple[str, ...], window: int = WINDOW) -> bool:
    """A context word (or a word it begins: 'telefono' -> 'telefonos') in the window before the value."""
    if not words:
        return False
    return _words_regex(words).search(fold(text[max(0, start - window):start])) is not None
