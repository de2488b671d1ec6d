"""National identifiers of Brazil, Mexico, Spain, Argentina, Chile and Colombia, plus IBAN.

A regular expression finds candidates in the formats people type (dots, dashes, spaces, no
separators); python-stdnum confirms or rejects each by its checksum. Identifiers whose
checksum is weak (a mod-11 digit on a plain number: Chilean RUT, Colombian NIT) need their
usual punctuation or a context word; the Colombian cédula has no checksum and needs context.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from stdnum import iban
from stdnum.ar import cuit
from stdnum.br import cnpj, cpf
from stdnum.cl import rut
from stdnum.co import nit
from stdnum.es import cif, dni, nie, nif
from stdnum.mx import curp, rfc

SEP = r"[.\-\u2013\u2010 \t\n/]?"  # one optional separator: dot, dash, en dash, space, tab, line break, slash
SEP2 = r"[.\-\u2013\u2010 \t\n/]{0,2}"  # up to two: "12. ABC.345 /01DE–35", "333/\n0001"
NL = r"(?:\s{0,2})"
HOMOCLAVE_GLUED = r"[.\-\u2013\u2010/]?[0-9A-Z]{3}"
HOMOCLAVE_SPACED = r"(?-i:(?=[A-Z]{0,2}\d|[A-Z]{3})[0-9A-Z]{3})"  # line breaks inside a number pasted from a document


@dataclass(frozen=True)
class IdRecognizer:
    type: str
    pattern: re.Pattern[str]
    is_valid: Callable[[str], bool]
    validator: str
    context: tuple[str, ...]  # folded words that raise the score when they precede the value
    score: float = 0.9
    needs_context: bool = False  # emit only with a context word
    needs_format: re.Pattern[str] | None = None  # ...or when the value is written in this format
    country: str | None = None  # preferred when the business number is of this country (CPF vs CUIT)
    shrink: bool = False  # an invalid candidate may be a valid one followed by more text (IBAN)
    min_digits: int = 6  # a shorter longest run of digits in the message: it cannot fire (the prefilter)

    def accepts_format(self, value: str) -> bool:
        return self.needs_format is not None and self.needs_format.fullmatch(value) is not None


ACRONYMS = ("DNI", "NIE", "NIF", "CIF", "CPF", "RFC", "RUT", "RUN", "NIT", "CUIT", "CUIL", "CURP", "CNPJ", "IBAN")
GLUED = "|".join(rf"(?<={a})" for a in ("DNI", "NIE", "NIF", "CPF", "RUT", "NIT"))  # "DNI34657934-Q"


def _p(expr: str, flags: int = re.IGNORECASE, glued: str | None = None) -> re.Pattern[str]:
    """`glued`: the class of the value's first character, when the value may follow its acronym with no
    space ("DNI34657934-Q"); checked first, it spares the six look-behinds at every other position."""
    start = rf"(?={glued})(?:{GLUED}|(?<![\w.\-/]))" if glued else r"(?<![\w.\-/])"
    return re.compile(rf"{start}{expr}(?![\w\-/]|\.\w)", flags)


def _rfc(value: str) -> bool:
    """An RFC's letters are a name or company initials, never an identifier's acronym ("NIT 800226098");
    initials that merely begin like one ("RUNU340416F35") are fine."""
    letters = re.match(r"[A-ZÑ&]*", value).group()
    return letters not in ACRONYMS and rfc.is_valid(value)


def _nif(value: str) -> bool:
    """NIF, accepting a DNI written without its leading zero ('1111111G')."""
    return nif.is_valid(value) or (len(value) == 8 and value[:7].isdigit() and nif.is_valid("0" + value))


RECOGNIZERS: tuple[IdRecognizer, ...] = (
    IdRecognizer("br_cpf", _p(rf"\d{{3}}{SEP}\d{{3}}{SEP}\d{{3}}{SEP}\d{{2}}"), cpf.is_valid, "stdnum.br.cpf",
                 ("cpf", "c.p.f", "cadastro de pessoa"), country="BR", min_digits=11),
    IdRecognizer("br_cnpj", _p(rf"[0-9A-Z]{{2}}{SEP2}[0-9A-Z]{{3}}{SEP2}[0-9A-Z]{{3}}{SEP2}[0-9A-Z]{{4}}{SEP2}\d{{2}}"),
                 cnpj.is_valid, "stdnum.br.cnpj", ("cnpj", "c.n.p.j", "empresa"), country="BR", min_digits=0),
    IdRecognizer("mx_curp", _p(r"[A-Z]{4}\d{6}[HMX][A-Z]{5}[0-9A-Z]\d"), curp.is_valid, "stdnum.mx.curp", ("curp",),
                 country="MX", min_digits=6),
    # RFC: letters + a valid birth/foundation date + homoclave; python-stdnum checks the date (its
    # check-digit test is off by default because many issued RFCs fail it).
    # The homoclave after a space must look like one (a digit, or capitals): "order AJG-301203 has shipped"
    # is not an RFC "AJG-301203 has".
    IdRecognizer("mx_rfc", _p(rf"[A-ZÑ&]{{3,4}}{SEP}\d{{6}}(?:{HOMOCLAVE_GLUED}|[ \t\n]{HOMOCLAVE_SPACED})"), _rfc,
                 "stdnum.mx.rfc",
                 ("rfc", "r.f.c", "registro federal"), country="MX"),
    IdRecognizer("mx_rfc", _p(rf"[A-ZÑ&]{{4}}{SEP}\d{{6}}"), _rfc, "stdnum.mx.rfc",
                 ("rfc", "r.f.c", "registro federal"), score=0.8, needs_context=True, country="MX"),
    IdRecognizer("es_dni", _p(rf"\d{{8}}{SEP}[A-Z]", glued=r"\d"), dni.is_valid, "stdnum.es.dni", ("dni", "d.n.i", "documento"),
                 country="ES", min_digits=8),
    IdRecognizer("es_nie", _p(rf"[XYZ]{SEP}\d{{7}}{SEP}[A-Z]", glued="[XYZ]"), nie.is_valid, "stdnum.es.nie",
                 ("nie", "n.i.e", "extranjero"), country="ES", min_digits=7),
    IdRecognizer("es_nif", _p(rf"[ABCDEFGHJNPQRSUVW]{SEP}\d{{7}}{SEP}[0-9A-J]"), cif.is_valid, "stdnum.es.cif",
                 ("nif", "cif", "n.i.f", "c.i.f"), country="ES", min_digits=7),
    IdRecognizer("es_nif", _p(rf"(?:[KLM]{SEP})?\d{{7}}{SEP}[A-Z]", glued=r"[KLM\d]"), _nif, "stdnum.es.nif",
                 ("nif", "n.i.f", "dni"), country="ES", min_digits=7),
    IdRecognizer("ar_cuit", _p(rf"(?:20|23|24|27|30|33|34){SEP}\d{{8}}{SEP}\d"), cuit.is_valid, "stdnum.ar.cuit",
                 ("cuit", "cuil", "c.u.i.t", "c.u.i.l"), country="AR", min_digits=11),
    IdRecognizer("cl_rut", _p(rf"\d{{1,2}}\.?\d{{3}}\.?\d{{3}}{SEP}[0-9K]", glued=r"\d"), rut.is_valid, "stdnum.cl.rut",
                 ("rut", "r.u.t", "run", "rol unico"), country="CL", min_digits=7,
                 needs_format=re.compile(r"\d{1,2}\.\d{3}\.\d{3}-[0-9Kk]|\d{7,8}-[0-9Kk]")),
    IdRecognizer("co_nit", _p(r"\d{1,3}(?:[., \-]?\d{3}){2,4}[ ]?[\-\u2013\u2014.]{0,2}[ ]?\d", glued=r"\d"), nit.is_valid, "stdnum.co.nit",
                 ("nit", "n.i.t"), country="CO", min_digits=7, needs_format=re.compile(r"\d{1,3}(?:\.\d{3}){2,4}-\d")),
    IdRecognizer("co_cedula", _p(r"\d{1,3}(?:\.?\d{3}){1,3}"), lambda v: 6 <= len(v) <= 10, "format+context",
                 ("cedula", "c.c", "cc", "cedula de ciudadania"), score=0.75, needs_context=True, country="CO"),
    IdRecognizer("iban", _p(r"[A-Z]{2}[ \-.]?\d{2}(?:[ \-.]?[0-9A-Za-z]){10,30}", 0), iban.is_valid, "stdnum.iban",
                 ("iban", "cuenta", "conta", "account", "transferencia"), shrink=True,
                 min_digits=10),
)


_SEPARATORS = re.compile(r"[\s.,\-\u2010\u2013\u2014/]")


def compact(value: str) -> str:
    return _SEPARATORS.sub("", value).upper()


def shrink_to_valid(rec: IdRecognizer, text: str) -> str | None:
    """The longest prefix of `text` (cut at a separator or character) that validates, for greedy candidates."""
    for end in range(len(text), 0, -1):
        if end < len(text) and not text[end - 1].isalnum():
            continue
        value = compact(text[:end])
        if len(value) < 12:
            return None
        if rec.is_valid(value):
            return text[:end]
    return None
