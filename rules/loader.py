"""YAML rule packs -> validated `Pack`s, with file:line:column on every error.

PyYAML's composer keeps each node's position; we build plain data from the nodes ourselves
(refusing duplicate keys, which plain `yaml.safe_load` silently accepts) and remember where
every value came from, so a pydantic error path maps back to the exact line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from rules.errors import Problem, RulePackError, SourceLocation
from rules.model import Pack, Rule

Path_ = tuple[str | int, ...]
PACK_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class RuleSet:
    """The packs loaded together; what a running worker holds and swaps as a whole."""

    packs: tuple[Pack, ...]

    def rules(self) -> list[tuple[Pack, Rule]]:
        return [(p, r) for p in self.packs for r in p.rules if r.enabled]

    def versions(self) -> dict[str, str]:
        return {p.pack.id: p.pack.version for p in self.packs}


def load_rules_dir(*paths: Path) -> RuleSet:
    """Load every pack under the given files/folders; all problems of all files in one error."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(f for f in path.rglob("*") if f.suffix in PACK_SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            raise RulePackError([Problem(SourceLocation(path, 0, 0), "no such file or folder")])
    loaded: list[tuple[Pack, Path]] = []
    problems: list[Problem] = []
    for f in files:
        try:
            loaded.append((load_pack(f), f))
        except RulePackError as exc:
            problems.extend(exc.problems)
    problems.extend(_cross_pack_problems(loaded))
    if problems:
        raise RulePackError(problems)
    return RuleSet(tuple(pack for pack, _ in loaded))


def load_pack(file: Path) -> Pack:
    text = file.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = SourceLocation(file, mark.line + 1, mark.column + 1) if mark else SourceLocation(file, 0, 0)
        raise RulePackError([Problem(where, f"YAML syntax: {exc.problem or exc.context}")]) from None
    if node is None:
        raise RulePackError([Problem(SourceLocation(file, 1, 1), "empty file")])
    marks: dict[Path_, yaml.Mark] = {}
    problems: list[Problem] = []
    data = _to_data(node, (), marks, problems, file)
    if problems:
        raise RulePackError(problems)

    def at(path: Path_, key: bool = False) -> SourceLocation:
        if key and ("@key", *path) in marks:
            path = ("@key", *path)
        while path not in marks and path:
            path = path[:-1]
        mark = marks.get(path, node.start_mark)
        return SourceLocation(file, mark.line + 1, mark.column + 1)

    def rule_id(path: Path_) -> str | None:
        if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
            rules = data.get("rules") if isinstance(data, dict) else None
            if isinstance(rules, list) and path[1] < len(rules) and isinstance(rules[path[1]], dict):
                return rules[path[1]].get("id")
        return None

    try:
        pack = Pack.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            unknown = err["type"] == "extra_forbidden"
            msg = f"unknown key {loc[-1]!r}" if unknown else err["msg"]
            problems.append(Problem(at(loc, key=unknown), f"{'.'.join(map(str, loc)) or 'pack'}: {msg}", rule_id(loc)))
        raise RulePackError(problems) from None

    seen: dict[str, int] = {}
    for i, rule in enumerate(pack.rules):
        if rule.id in seen:
            problems.append(Problem(at(("rules", i, "id")), f"duplicate rule id (first at rules[{seen[rule.id]}])", rule.id))
        seen.setdefault(rule.id, i)
        for field in ("any", "all", "none"):
            for j, item in enumerate(getattr(rule.match, field)):
                if item.startswith("$") and item[1:] not in pack.lists:
                    problems.append(Problem(at(("rules", i, "match", field, j)), f"unknown list {item!r}", rule.id))
                elif not item.strip():
                    problems.append(Problem(at(("rules", i, "match", field, j)), "empty term", rule.id))
    if problems:
        raise RulePackError(problems)
    return pack


def _to_data(node: yaml.Node, path: Path_, marks: dict[Path_, yaml.Mark], problems: list[Problem], file: Path) -> Any:
    marks[path] = node.start_mark
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key in out:
                m = key_node.start_mark
                problems.append(Problem(SourceLocation(file, m.line + 1, m.column + 1), f"duplicate key {key!r}"))
                continue
            marks[("@key", *path, key)] = key_node.start_mark
            out[key] = _to_data(value_node, (*path, key), marks, problems, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_data(v, (*path, i), marks, problems, file) for i, v in enumerate(node.value)]
    return yaml.SafeLoader(" ").construct_object(node)  # scalars: int, bool, str… as YAML 1.1 says


def _cross_pack_problems(loaded: list[tuple[Pack, Path]]) -> list[Problem]:
    problems = []
    owners: dict[str, str] = {}
    pack_ids: dict[str, Path] = {}
    for pack, file in loaded:
        if pack.pack.id in pack_ids:
            problems.append(Problem(SourceLocation(file, 1, 1), f"pack id {pack.pack.id!r} also used by {pack_ids[pack.pack.id]}"))
        pack_ids.setdefault(pack.pack.id, file)
        for rule in pack.rules:
            if rule.id in owners and owners[rule.id] != pack.pack.id:
                problems.append(Problem(SourceLocation(file, 1, 1), f"rule id also defined in pack {owners[rule.id]!r}", rule.id))
            owners.setdefault(rule.id, pack.pack.id)
    return problems
