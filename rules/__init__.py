"""Rule packs: the YAML policy files compliance teams write, loaded and validated.

Public API: `load_pack`, `load_rules_dir`, `RuleSet`, `RulePackError`, `SHIPPED_PACKS`, the
folder of packs that come with chatwatch, and `SHIPPED_CORPUS`, the labelled chat lines they are
scored on (`chatwatch rules quality`). Depends only on the bottom layer (chatwatch.records);
detectors compile a `RuleSet` into matchers.
"""

from pathlib import Path

from chatwatch.rules.errors import RulePackError, SourceLocation
from chatwatch.rules.loader import RuleSet, load_pack, load_rules_dir
from chatwatch.rules.model import Pack, Rule

SHIPPED_PACKS = Path(__file__).resolve().parent / "packs"
SHIPPED_CORPUS = SHIPPED_PACKS / "chat-corpus.jsonl"  # labelled chat lines the shipped packs are scored on

__all__ = ["SHIPPED_CORPUS", "SHIPPED_PACKS", "Pack", "Rule", "RulePackError", "RuleSet", "SourceLocation", "load_pack", "load_rules_dir"]
