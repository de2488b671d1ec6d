"""Scanner throughput on chat-sized messages, against a baseline measured in the same process.

Baseline: normalization alone (the least any matcher must do). Reported: messages/s for
normalize-only and for the full keyword scan, and their ratio. Run by hand:

    .venv/bin/python bench/bench_scan.py [--messages 50000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from detectors.normalize import normalize
from detectors.scanner import Scanner
from rules import load_rules_dir
from streams.settings import PACKAGED_RULES

WORDS = ("hola buenos dias pedido envio gracias factura pago cuenta boleto obrigado por favor amanha "
         "order delivery address tomorrow precio descuento cliente numero oficina horario").split()
VIOLATIONS = ["escríbeme a mi número", "me chama no privado", "my personal number"]


def corpus(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for i in range(n):
        words = rng.choices(WORDS, k=rng.randint(3, 10))  # ~40 characters median, like real chats
        if i % 50 == 0:
            words.insert(rng.randint(0, len(words)), rng.choice(VIOLATIONS))
        texts.append(" ".join(words).capitalize())
    return texts


def rate(fn, texts: list[str]) -> float:
    start = time.perf_counter()
    for t in texts:
        fn(t)
    return len(texts) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    texts = corpus(args.messages)
    scanner = Scanner(load_rules_dir(PACKAGED_RULES))
    base, full = [], []
    for _ in range(args.rounds):
        base.append(rate(normalize, texts))
        full.append(rate(lambda t: scanner.scan(t, "outbound"), texts))
    b, f = statistics.median(base), statistics.median(full)
    print(f"messages: {len(texts)}, median length {statistics.median(map(len, texts)):.0f} chars, rounds: {args.rounds}")
    print(f"normalize only : {b:10,.0f} msg/s")
    print(f"keyword scan   : {f:10,.0f} msg/s  ({f / b:.2f}x of normalize-only)")


if __name__ == "__main__":
    main()
