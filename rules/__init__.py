"""Rule packs: the YAML policy files compliance teams write, loaded and validated.

Public API: `load_pack`, `load_rules_dir`, `RuleSet`, `RulePackError`. Depends on nothing else
in chatwatch; detectors compile a `RuleSet` into matchers.
"""

from rules.errors import RulePackError, SourceLocation
from rules.loader import RuleSet, load_pack, load_rules_dir
from rules.model import Pack, Rule

__all__ = ["Pack", "Rule", "RulePackError", "RuleSet", "SourceLocation", "load_pack", "load_rules_dir"]
