"""The PII pattern path on the chat mix, in CPU time: a before/after check on a shared, noisy machine.

    .venv/bin/pip install -e '.[eval]'                 # Faker, for bench/chat_corpus.py
    .venv/bin/python bench/pii_patterns_cpu.py [--lines 20000] [--seed 7]

eval_pii.py measures wall-clock rates, which other load on a 2-core machine moves by ±30%; CPU time
of this process (best of 5 passes) moves by a few percent, enough to see a recognizer's cost. Run it
on two checkouts in turn (e.g. PYTHONPATH pointing at the older one) and compare the two lines.
"""

from __future__ import annotations

import argparse
import time

import chat_corpus

from chatwatch.detectors.pii import PiiConfig, PiiDetector
from chatwatch.detectors.pii.detector import PiiInput


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    detector = PiiDetector(PiiConfig(ner=False))
    items = [PiiInput(text, lang, region) for text, lang, region, _ in chat_corpus.build(args.lines, args.seed)]
    detector.detect_many(items[:500], use_ner=False)  # warm the context-word regexes
    times = []
    for _ in range(5):
        started = time.process_time()
        detector.detect_many(items, use_ner=False)
        times.append(time.process_time() - started)
    print(f"{len(items)} chat lines (seed {args.seed}): patterns {len(items) / min(times):,.0f} msg/s "
          f"(CPU time, best of 5)")


if __name__ == "__main__":
    main()
