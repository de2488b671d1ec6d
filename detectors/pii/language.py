"""A message's language: configured per business number, or guessed from function words.

Chat messages are short; statistical language identifiers do poorly on 40 characters. A count
of frequent function words of Spanish, Portuguese and English decides when it is clear, and the
business number's configured language (or the default) decides otherwise.
"""

from __future__ import annotations

import re

WORDS = {
    "es": set("el la los las que de del y en un una por para con no es está estoy pero muy gracias hola "
              "usted tu mi su al lo le se como cuando donde porque también ya sí bueno buenos días tengo".split()),
    "pt": set("o a os as que de do da dos das e em um uma por para com não é está estou mas muito obrigado "
              "obrigada olá oi você seu sua meu minha no na nos nas ao como quando onde porque também já sim bom "
              "dia tenho vou".split()),
    "en": set("the a an of and to in is it you that for on with this my your have be are was not but hi hello "
              "thanks thank please i we they what when where how can will just".split()),
}
TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)


def guess_language(text: str, default: str) -> str:
    counts = dict.fromkeys(WORDS, 0)
    for token in TOKEN.findall(text.lower()):
        for lang, words in WORDS.items():
            if token in words:
                counts[lang] += 1
    best = max(counts, key=counts.__getitem__)
    ranked = sorted(counts.values(), reverse=True)
    return best if ranked[0] >= 2 and ranked[0] > ranked[1] else default
