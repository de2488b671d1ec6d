"""Names, organizations and places through a spaCy NER model per language, in batches.

Model names are configuration. A configured model that is not installed is reported once (log
warning + `chatwatch_pii_ner_model_missing{lang}`) and that language runs on patterns only.
Statistical NER over-fires on chat text (greetings, product names, acronyms), so each entity
passes a validation step before it becomes a finding.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Sequence

from chatwatch.detectors.pii.findings import Finding

log = logging.getLogger(__name__)

LABELS = {"PER": "person", "PERSON": "person", "ORG": "organization", "LOC": "location", "GPE": "location"}
# Words NER models often tag as names in chat, per language: greetings, closings, courtesy and filler
# (capitalized at the start or end of a line as people type them), app names, our own vocabulary.
COURTESY = {
    "es": "hola buenas buenos buen dia dias días tardes noches gracias muchas mil disculpe disculpa perdon perdón "
          "saludos atentamente cordialmente abrazo abrazos besos bendiciones feliz favor porfa vale claro perfecto "
          "listo bueno buena señor senor señora senora sr sra don doña tiene tienen quiero necesito hasta luego "
          "adios adiós chao cliente amigo amiga jefe querido querida estimado estimada",
    "pt": "oi ola olá bom boa dia dias tarde tardes noite noites obrigado obrigada muito muita grato grata desculpe "
          "desculpa perdao perdão abraço abraços abraco abracos beijo beijos bjs att atenciosamente cordialmente "
          "valeu beleza certo claro perfeito pronto senhor senhora dona tem têm quero preciso tchau ate até logo "
          "amigo amiga chefe querido querida prezado prezada",
    "en": "hi hello hey thanks thank please sorry regards cheers best kind dear sir madam okay sure great perfect "
          "bye morning afternoon evening customer client",
}
NOT_NAMES = frozenset(
    " ".join(COURTESY.values()).split()
    + "whatsapp zap pix cpf cnpj rfc curp nif nie dni iban cvv pin ok okay sí si sim no não nao mi mis meu minha "
      "meus my tu tus seu sua your su sus el la los las o a os as the un una um uma".split())
# Before a single-word name these make it one: "soy Ana", "meu nome é Ana", "Hola Ana", "Sr. Pérez".
NAME_CUES = re.compile(r"(?:\b(?:soy|me llamo|mi nombre es|habla|hablas con|sou|sou a|sou o|meu nome é|meu nome e|aqui é|"
                       r"aqui e|fala|falo com|my name is|this is|i am|i'm|sr|sra|srta|señor|señora|senhor|senhora|"
                       r"don|doña|dona|dr|dra|hola|buenas|oi|olá|ola|hi|hello|hey|gracias|obrigado|obrigada|"
                       r"thanks)[.,:]?\s*)$", re.IGNORECASE)
# A name right after one of these, in a message about delivery or an address, is a place.
PLACE_BEFORE = re.compile(r"\b(?:para|pra|a|al|en|em|no|na|to|hasta|até|ate|desde|from)\s+$", re.IGNORECASE)
DELIVERY_WORDS = re.compile(r"\b(?:env[ií]o|enviar|env[ií]an|frete|entrega|entregar|entregam|despacho|mandar|mandan|"
                            r"llega|chega|ship|shipping|deliver|delivery|direcci[oó]n|endere[cç]o|address|calle|rua|"
                            r"avenida|ciudad|cidade|bairro|colonia|barrio|cep|c[oó]digo postal|zip)", re.IGNORECASE)


class NerEngine:
    def __init__(self, models: dict[str, str], on_missing=None):
        self.models = models
        self._nlp: dict[str, object] = {}
        self.missing: dict[str, str] = {}
        for lang, name in models.items():
            try:
                import spacy

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # spaCy's "trained with an older version" (W095) for es 3.1
                    self._nlp[lang] = spacy.load(name, exclude=["parser", "lemmatizer", "tagger", "morphologizer",
                                                               "attribute_ruler", "senter"])
            except (OSError, ImportError) as exc:
                self.missing[lang] = name
                log.warning("NER model %r for %s is not installed (%s); %s messages get pattern detection only",
                            name, lang, type(exc).__name__, lang)
                if on_missing:
                    on_missing(lang)

    def entities(self, texts: Sequence[str], lang: str, batch_size: int = 128) -> list[list[Finding]]:
        nlp = self._nlp.get(lang)
        out: list[list[Finding]] = [[] for _ in texts]
        if nlp is None:
            return out
        validator = f"ner:{self.models[lang]}"
        gated = [i for i, t in enumerate(texts) if may_have_names(t)]
        for i, doc in zip(gated, nlp.pipe([texts[i] for i in gated], batch_size=batch_size), strict=True):
            for ent in doc.ents:
                kind = LABELS.get(ent.label_)
                text, start = _strip_greeting(ent.text, ent.start_char)
                if kind == "person":
                    kind = _person_or_place(texts[i], start, text)
                elif kind and not _cued_or_inside(texts[i][:start], text):
                    kind = None  # "¿Hacen", "Hablé" tagged as places at a sentence start
                if kind and _plausible(kind, text):
                    out[i].append(Finding(kind, start, ent.end_char, 0.6, validator, source="ner"))
        return out


# A capitalized word of 3+ letters standing alone: not glued to digits or "@" (passwords such as
# "Verano2026", handles), which NER would only mistake for names.
_CAPITALIZED = re.compile(r"(?<![\w@])[A-ZÁÉÍÓÚÂÊÔÃÕÇÑÜ][a-záéíóúâêôãõçñü]{2,}(?![\w@])")
_OPENERS = " \t\"'«(¿¡"
_SENTENCE_ENDS = ".!?…\n"


def may_have_names(text: str) -> bool:
    """Cheap gate before NER: a capitalized word that does not start a sentence (or two in a row at a
    sentence start: "Ana Gómez pidió…") and is not a greeting. Sentence starts include those after
    "?", "!" and "." ("Oi, tudo bem? Tem em azul?"), where everyone capitalizes. Lowercase chat
    ("ok, mañana te llamo") skips spaCy; so do ~9 in 10 messages of a realistic mix."""
    previous_end = -1
    for match in _CAPITALIZED.finditer(text):
        word = match.group()
        before = text[:match.start()].rstrip(_OPENERS)
        starts_sentence = not before or before[-1] in _SENTENCE_ENDS
        follows_capital = previous_end >= 0 and not text[previous_end:match.start()].strip()
        previous_end = match.end()
        if word.casefold() in NOT_NAMES:
            continue
        if not starts_sentence or follows_capital:
            return True
    return False


def _person_or_place(message: str, start: int, name: str) -> str | None:
    """"frete para Azevedo", "envío a San Lilia": a place. A single word at a sentence start with no
    cue before it ("Grato", "Abraço" on their own line) is weak evidence: not a name."""
    before = message[:start]
    if PLACE_BEFORE.search(before) and DELIVERY_WORDS.search(message):
        return "location"
    return "person" if _cued_or_inside(before, name) else None


def _cued_or_inside(before: str, name: str) -> bool:
    """Evidence beyond the model for a one-word entity: it is not at a sentence start (people capitalize
    every first word), or a cue precedes it ("soy", "Hola", "Sr.")."""
    if " " not in name.strip():
        opening = before.rstrip(_OPENERS)
        if (not opening or opening[-1] in _SENTENCE_ENDS) and not NAME_CUES.search(before):
            return False
    return True


def _strip_greeting(text: str, start: int) -> tuple[str, int]:
    """'Hola María González' -> 'María González' (models often glue the greeting to the name)."""
    words = text.split()
    if len(words) > 1 and words[0].strip(",.!¡").casefold() in NOT_NAMES:
        cut = text.index(words[1], len(words[0]))
        return text[cut:], start + cut
    return text, start


def _plausible(kind: str, text: str) -> bool:
    """The validation step: drop what a person would never call a name, organization or place."""
    words = text.split()
    if not words or any(c.isdigit() for c in text) or len(text) < 3:
        return False
    if all(w.strip(".,!?¿¡:;").casefold() in NOT_NAMES for w in words):
        return False
    if kind == "person":
        capitalized = [w for w in words if w[:1].isupper()]
        if not capitalized or text.isupper():
            return False  # "hola", "CPF"
    return True
