"""Names, organizations and places through a spaCy NER model per language, in batches.

Model names are configuration. A configured model that is not installed is reported once (log
warning + `chatwatch_pii_ner_model_missing{lang}`) and that language runs on patterns only.
Statistical NER over-fires on chat text (greetings, product names, acronyms), so each entity
passes a validation step before it becomes a finding.
"""

from __future__ import annotations

import functools
import logging
import re
import warnings
from collections.abc import Sequence

from chatwatch.detectors.normalize import fold
from chatwatch.detectors.pii.context import NEGATIVE
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
_NAME = r"[A-ZÁÉÍÓÚÂÊÔÃÕÇÑÜ][a-záéíóúâêôãõçñü]+"
# Right before a name, these say it is one whatever label the model gave ("this is Christine" -> ORG):
# introductions, who wrote or who to talk to, honorifics; and greetings or thanks with a comma.
PERSON_CUES = re.compile(r"(?i:\b(?:soy|sou|me llamo|mi nombre es|meu nome [ée]|my name is|this is|i am|i'm|habla|"
                         r"le escribe|aqu[ií] [ée]s?|falei com|falo com|habl[ée] con|spoke with|talked to|atienda|"
                         r"atende|ask|pedir para|sr|sra|srta|dr|dra|lic|ing|don|doña|dona|señor|señora|senhor|"
                         r"senhora)\.?\s+)$")
GREETING_CUES = re.compile(r"(?i:\b(?:hola|buenas|oi|ol[áa]|hi|hello|hey|gracias|obrigad[oa]|thanks|thank you|valeu|"
                           r"grat[oa]|saludos|abrazos?|abraços?|tchau|chau|bye)"
                           r"[,!]?\s+)$")
NAME_AFTER = re.compile(r"(?i:,?\s+(?:aqu[ií]|here|falando|hablando|speaking)\b)")
# A capitalized name after the strongest cues is a name even when the model saw none.
CUED_NAME = re.compile(r"(?i:\b(?:me llamo|mi nombre es|meu nome [ée]|my name is|this is|soy|sou|le escribe|"
                       r"atienda|falei com|habl[ée] con|spoke with)\s+)"
                       rf"({_NAME}(?:\s+(?:(?:de|da|do|dos|das|del)\s+)?{_NAME}){{0,3}})")
NAMED_HERE = re.compile(rf"({_NAME}(?:\s+{_NAME})?){NAME_AFTER.pattern}")
# Function words and everyday verbs that start chat lines ("Olá, Chegou a nota", "Buenas, Nos vemos"):
# never a one-word name, place or organization.
COMMON_WORDS = frozenset(
    "chegou chegaram quedo quedamos tengo tiene tienen quiero quero preciso necesito llegó llego mande manda "
    "vi fiz hice estoy estou sigo sigue segue aguardo espero gostaria quisiera podrían poderiam".split())


@functools.cache
def stop_words() -> frozenset[str]:
    """spaCy's own es/pt/en stop-word lists (plain Python sets: no model loads). Read on first use:
    importing spaCy costs half a second, which processes that never run NER should not pay."""
    try:
        from spacy.lang.en.stop_words import STOP_WORDS as en
        from spacy.lang.es.stop_words import STOP_WORDS as es
        from spacy.lang.pt.stop_words import STOP_WORDS as pt
    except ImportError:
        return frozenset()
    return frozenset(es | pt | en)

# A name right after one of these, in a message about delivery or an address, is a place.
PLACE_BEFORE = re.compile(r"\b(?:para|pra|a|al|en|em|no|na|to|hasta|até|ate|desde|from)\s+(?:[\w'-]+\s+){0,3}$",
                          re.IGNORECASE)
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
        """Entities of texts that passed `may_have_names` (callers gate: `PiiDetector.ner_work`)."""
        nlp = self._nlp.get(lang)
        out: list[list[Finding]] = [[] for _ in texts]
        if nlp is None:
            return out
        validator = f"ner:{self.models[lang]}"
        for i, doc in enumerate(nlp.pipe(texts, batch_size=batch_size)):
            for ent in doc.ents:
                text, start = _strip_greeting(ent.text, ent.start_char)
                kind = _kind(texts[i], start, ent.end_char, text, LABELS.get(ent.label_))
                if kind and _plausible(kind, text):
                    out[i].append(Finding(kind, start, ent.end_char, 0.6, validator, source="ner"))
            taken = [(f.start, f.end) for f in out[i]]
            for m in (*CUED_NAME.finditer(texts[i]), *NAMED_HERE.finditer(texts[i])):
                a, b = m.span(1)
                if not _common(m.group(1)) and not any(a < e and s < b for s, e in taken):
                    out[i].append(Finding("person", a, b, 0.6, f"{validator}+cue", source="ner"))
                    taken.append((a, b))
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
    if NAMED_HERE.search(text):
        return True  # "Gregory here", "Salomón aquí"
    previous_end = -1
    for match in _CAPITALIZED.finditer(text):
        word = match.group()
        starts_sentence = _at_sentence_start(text[:match.start()])
        follows_capital = previous_end >= 0 and not text[previous_end:match.start()].strip()
        previous_end = match.end()
        if word.casefold() in NOT_NAMES:
            continue
        if not starts_sentence or follows_capital:
            return True
    return False


def name_like(text: str) -> list[Finding]:
    """The words the gate above would send to NER, as `person` findings: what is masked when NER could
    not run (its child died twice), so a redacted copy never shows a name the model would have caught."""
    found, previous_end = [], -1
    for match in _CAPITALIZED.finditer(text):
        starts_sentence = _at_sentence_start(text[:match.start()])
        follows_capital = previous_end >= 0 and not text[previous_end:match.start()].strip()
        previous_end = match.end()
        if match.group().casefold() not in NOT_NAMES and (not starts_sentence or follows_capital):
            found.append(Finding("person", match.start(), match.end(), 0.5, "ner-unavailable:capitalized",
                                 source="fallback"))
    return found


def _common(name: str) -> bool:
    """One word that is a function word, an everyday verb or our own order/case vocabulary."""
    word = name.strip().casefold()
    return " " not in word and (word in stop_words() or word in COMMON_WORDS or word in NOT_NAMES or fold(word) in NEGATIVE)


def _kind(message: str, start: int, end: int, name: str, labelled: str | None) -> str | None:
    """What an entity is, from the model's label and cheap evidence around it."""
    before = message[:start]
    if _common(name):
        return None  # "Nos", "Qual", "Chegou", "Folio"
    if PLACE_BEFORE.search(before) and DELIVERY_WORDS.search(message):
        return "location"  # "frete para Azevedo", "envío a San Lilia"
    if PERSON_CUES.search(before) or GREETING_CUES.search(before) or NAME_AFTER.match(message, end):
        return "person"  # "this is Christine" (labelled ORG), "Gracias, Vanesa" (LOC), "Salomón aquí"
    if labelled is None or (" " not in name.strip() and _at_sentence_start(before)):
        return None  # MISC; or one word at a sentence start with no cue ("Grato", "¿Hacen")
    if " " not in name.strip() and name.islower():
        return None  # one lowercase word with no cue is a word ("fala" labelled LOC, "pix")
    return labelled


def _at_sentence_start(before: str) -> bool:
    """Does a word after `before` start a sentence (where everyone capitalizes)?"""
    opening = before.rstrip(_OPENERS)
    return not opening or opening[-1] in _SENTENCE_ENDS


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
