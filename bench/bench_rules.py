"""Rule evaluation throughput with a 10,000-term pack, against two baselines in the same process.

    .venv/bin/python bench/bench_rules.py [--terms 10000] [--messages 50000] [--rounds 3]

Reports, single process:
  - compile: loading + validating the generated pack and building the scanner (time, memory)
  - floor: fold + raw pyahocorasick iteration over the same terms (what no rule engine can beat)
  - naive: one big alternation regex of the same terms (what a naive implementation does)
  - chatwatch: full rule evaluation (keywords, exceptions, near, attachments, scope), as the scan agent runs it
and chatwatch's cost as a multiple of the floor's. Numbers go in issue notes, never in tests.
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import statistics
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import ahocorasick

from chatwatch.detectors.attachments import AttachmentInfo
from chatwatch.detectors.normalize import fold
from chatwatch.detectors.scanner import Scanner, Subject
from chatwatch.rules import load_rules_dir

SYLLABLES = ["ba", "be", "bi", "bo", "bu", "ca", "ce", "co", "da", "de", "di", "do", "fa", "fe", "fi", "ga", "go", "la", "le", "li", "lo", "ma", "me", "mi", "mo", "na", "ne", "no", "pa", "pe", "po", "ra", "re", "ri", "ro", "sa", "se", "si", "so", "ta", "te", "ti", "to", "va", "ve", "vi", "za", "ção", "ñu", "lha", "nha"]
FILLER = ["hola", "buenos", "dias", "pedido", "envio", "gracias", "factura", "pago", "cuenta", "boleto", "obrigado", "por", "favor", "amanhã", "order", "delivery", "address", "tomorrow", "precio", "descuento", "cliente", "número", "oficina", "horário", "entrega", "você", "está", "já", "não", "sí"]
RULES_PER_PACK = 100
NOON = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)


def words(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(n)]


def write_pack(folder: Path, terms: list[str]) -> None:
    """100 rules share the terms; a quarter use near, a quarter exceptions; one attachment rule."""
    per_rule = len(terms) // RULES_PER_PACK
    lines = ["pack: {id: bench, version: 1, title: Bench}", "lists:"]
    for r in range(RULES_PER_PACK):
        lines.append(f"  l{r}: [{', '.join(terms[r * per_rule:(r + 1) * per_rule])}]")
    lines.append("rules:")
    for r in range(RULES_PER_PACK):
        lines += [f"  - id: bench.r{r}", "    title: R", "    severity: medium", "    category: bench", "    match:"]
        lines.append(f"      near: [{{items: [$l{r}, pago], within: 5}}]" if r % 4 == 0 else f"      any: [$l{r}]")
        if r % 4 == 1:
            lines.append("    exceptions: {phrases: [pago confirmado]}")
    lines += ["  - id: bench.exe", "    title: Exe", "    severity: high", "    category: bench", "    match:",
              "      attachment: [{extensions: [exe, scr]}, {double_extension: true}]"]
    (folder / "bench.yaml").write_text("\n".join(lines) + "\n")


def corpus(rng: random.Random, terms: list[str], n: int) -> list[Subject]:
    """Chat-sized messages (median ~40 chars); 5% carry a term, 2% an attachment."""
    subjects = []
    for i in range(n):
        text = rng.choices(FILLER, k=rng.randint(3, 9))
        if i % 20 == 0:
            text.insert(rng.randint(0, len(text)), rng.choice(terms))
        attachments = (AttachmentInfo(rng.choice(["nota.pdf", "foto.jpg", "setup.exe", "a.pdf.exe"]), None, 1000),) \
            if i % 50 == 0 else ()
        subjects.append(Subject(text=" ".join(text).capitalize(), direction="outbound", timestamp=NOON,
                                attachments=attachments))
    return subjects


def rate(fn, items) -> float:
    gc.collect()
    start = time.perf_counter()
    for item in items:
        fn(item)
    return len(items) / (time.perf_counter() - start)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--terms", type=int, default=10_000)
    ap.add_argument("--messages", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--regex-messages", type=int, default=2_000, help="the naive baseline is slow: a subset")
    args = ap.parse_args()
    rng = random.Random(42)
    terms = sorted(set(words(rng, args.terms * 2)) - {fold(w) for w in FILLER})[: args.terms]
    rng.shuffle(terms)

    with tempfile.TemporaryDirectory() as tmp:
        write_pack(Path(tmp), terms)
        gc.collect()
        rss_before = rss_mb()
        tracemalloc.start()
        started = time.perf_counter()
        scanner = Scanner(load_rules_dir(Path(tmp)))
        compile_s = time.perf_counter() - started
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_delta = rss_mb() - rss_before

    subjects = corpus(rng, terms, args.messages)
    texts = [s.text for s in subjects]
    floor = ahocorasick.Automaton()
    for t in terms:
        floor.add_word(fold(t), t)
    floor.make_automaton()
    naive = re.compile(r"\b(?:" + "|".join(re.escape(fold(t)) for t in terms) + r")\b")

    floor_rates, full_rates = [], []
    for _ in range(args.rounds):
        floor_rates.append(rate(lambda t: list(floor.iter(fold(t))), texts))
        full_rates.append(rate(scanner.scan, subjects))
    naive_rate = rate(lambda t: naive.findall(fold(t)), texts[: args.regex_messages])
    alerts = sum(len(scanner.scan(s)) for s in subjects)

    f, c = statistics.median(floor_rates), statistics.median(full_rates)
    print(f"pack: {args.terms} terms in {RULES_PER_PACK + 1} rules; corpus: {len(subjects)} messages, "
          f"median {statistics.median(map(len, texts)):.0f} chars; rounds: {args.rounds} (medians)")
    print(f"compile (load + validate + build): {compile_s:.2f} s, python heap peak {traced_peak / 1e6:.1f} MB, "
          f"RSS +{rss_delta:.1f} MB")
    print(f"floor  fold + raw automaton     : {f:10,.0f} msg/s")
    print(f"naive  one alternation regex    : {naive_rate:10,.0f} msg/s  (on {args.regex_messages} messages)")
    print(f"chatwatch full rule evaluation  : {c:10,.0f} msg/s  = {f / c:.2f}x the floor's cost; {alerts} alerts")


if __name__ == "__main__":
    main()
