"""YAML rule packs -> validated `Pack`s, with file:line:column on every error.

PyYAML's composer keeps each node's position; we build plain data from the nodes ourselves
(refusing duplicate keys, which plain `yaml.safe_load` silently accepts) and remember where
every key and value came from, so a pydantic error path maps back to the exact line.
All problems of all files are collected in one pass and raised together.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import re2
import yaml
from pydantic import ValidationError

from chatwatch.rules.conversation import ConversationRule, Event
from chatwatch.rules.errors import Problem, RulePackError, SourceLocation
from chatwatch.rules.model import PII_TYPES, REF, Pack, Rule, TermList

Path_ = tuple[str | int, ...]
PACK_SUFFIXES = (".yaml", ".yml")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's composer keeps marks too, ~10x faster


@dataclass(frozen=True)
class RuleSet:
    """The packs loaded together; what a running worker holds and swaps as a whole."""

    packs: tuple[Pack, ...]

    def rules(self) -> list[tuple[Pack, Rule]]:
        return [(p, r) for p in self.packs for r in p.rules if r.enabled]

    def conversation_rules(self) -> list[tuple[Pack, ConversationRule]]:
        return [(p, r) for p in self.packs for r in p.conversation if r.enabled]

    def versions(self) -> dict[str, str]:
        return {p.pack.id: p.pack.version for p in self.packs}

    def term_list(self, pack: Pack, ref: str) -> TermList:
        """The list a `$name` or `$pack.name` item of `pack` stands for (validated at load)."""
        m = REF.match(ref)
        assert m, ref
        owner = pack if m["pack"] is None else next(p for p in self.packs if p.pack.id == m["pack"])
        found = owner.term_list(m["list"])
        assert found is not None, ref
        return found


@dataclass
class _Loaded:
    pack: Pack
    file: Path
    refs: list[tuple[str, SourceLocation, str | None]] = field(default_factory=list)
    at: Any = None  # path in the document -> SourceLocation


def pack_files(folder: Path) -> list[Path]:
    """The visible pack files under a folder, sorted. Hidden names are skipped at every level: a
    Kubernetes ConfigMap volume holds each file twice (the visible link and `..<timestamp>/` behind
    `..data`), and editors leave `.name.yaml.swp`-like files. In such a volume the files are read
    from the folder `..data` points to now, resolved once, so a swap during a load cannot mix two
    versions of the packs."""
    data = folder / "..data"
    if data.is_symlink() and data.is_dir():
        folder = data.resolve()
    found = []
    for f in folder.rglob("*"):
        parts = f.relative_to(folder).parts
        if f.suffix in PACK_SUFFIXES and not any(part.startswith(".") for part in parts) and f.is_file():
            found.append(f)
    return sorted(found)


def load_rules_dir(*paths: Path) -> RuleSet:
    """Load every pack under the given files/folders; all problems of all files in one error."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(pack_files(path))
        elif path.is_file():
            files.append(path)
        else:
            raise RulePackError([Problem(SourceLocation(path, 0, 0), "no such file or folder")])
    loaded: list[_Loaded] = []
    problems: list[Problem] = []
    for f in files:
        try:
            loaded.append(_load(f))
        except RulePackError as exc:
            problems.extend(exc.problems)
    problems.extend(_cross_pack_problems(loaded))
    problems.extend(_reference_problems(loaded))
    if problems:
        raise RulePackError(problems)
    return RuleSet(tuple(lp.pack for lp in loaded))


def load_pack(file: Path) -> Pack:
    """One pack on its own; references to other packs' lists need `load_rules_dir`."""
    loaded = _load(file)
    problems = _reference_problems([loaded])
    if problems:
        raise RulePackError(problems)
    return loaded.pack


def _load(file: Path) -> _Loaded:
    text = file.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=_LOADER)
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
        errors = [(_clean_loc(e["loc"]), e) for e in exc.errors(include_input=False)]
        # A failed `str | Model` union reports both branches; keep the deeper, more precise one.
        locs = [loc for loc, _ in errors]
        errors = [(loc, e) for loc, e in errors if not any(o[:len(loc)] == loc and len(o) > len(loc) for o in locs)]
        for loc, err in errors:
            unknown = err["type"] == "extra_forbidden"
            msg = f"unknown key {loc[-1]!r}" if unknown else err["msg"].removeprefix("Value error, ")
            problems.append(Problem(at(loc, key=unknown), f"{'.'.join(map(str, loc)) or 'pack'}: {msg}", rule_id(loc)))
        raise RulePackError(_dedupe(problems)) from None

    loaded = _Loaded(pack, file, at=at)
    seen: dict[str, int] = {}
    for i, rule in enumerate(pack.rules):
        if rule.id in seen:
            problems.append(Problem(at(("rules", i, "id")), f"duplicate rule id (first at rules[{seen[rule.id]}])",
                                    rule.id))
        seen.setdefault(rule.id, i)
        for path, item in _rule_items(rule):
            where = at(("rules", i, *path))
            if item.startswith("$"):
                if not REF.match(item):
                    problems.append(Problem(where, f"bad list reference {item!r} (write $list or $pack.list)", rule.id))
                else:
                    loaded.refs.append((item, where, rule.id))
            elif not item.strip():
                problems.append(Problem(where, "empty term", rule.id))
            elif path[:2] == ("match", "attachment") and path[3] == "sha256" and not SHA256.match(item.lower()):
                problems.append(Problem(where, "sha256 must be 64 hex digits", rule.id))
        for path, pattern in _rule_patterns(rule):
            try:
                re2.compile(pattern)
            except re2.error as exc:
                problems.append(Problem(at(("rules", i, *path)), f"invalid RE2 regex `{pattern}`: {_re2_reason(exc)}",
                                        rule.id))
    for name, lst in pack.lists.items():
        terms = lst.terms if isinstance(lst, TermList) else lst
        for j, t in enumerate(terms):
            if not (t if isinstance(t, str) else t.term).strip():
                problems.append(Problem(at(("lists", name, j)), f"empty term in list {name!r}"))
    if problems:
        raise RulePackError(problems)
    return loaded


def _rule_items(rule: Rule) -> Iterator[tuple[Path_, str]]:
    """Every term/list item of a rule with its path inside the rule."""
    m = rule.match
    for key in ("any", "all", "none"):
        for j, item in enumerate(getattr(m, key)):
            yield ("match", key, j), item
    for j, near in enumerate(m.near):
        for k, item in enumerate(near.items):
            yield ("match", "near", j, "items", k), item
    for j, count in enumerate(m.count):
        for k, item in enumerate(count.items):
            yield ("match", "count", j, "items", k), item
    for j, cond in enumerate(m.attachment):
        for k, item in enumerate(cond.sha256):
            yield ("match", "attachment", j, "sha256", k), item
    for j, item in enumerate(rule.exceptions.phrases):
        yield ("exceptions", "phrases", j), item


def _rule_patterns(rule: Rule) -> Iterator[tuple[Path_, str]]:
    for j, pattern in enumerate(rule.match.regex):
        yield ("match", "regex", j), pattern
    for j, cond in enumerate(rule.match.attachment):
        if cond.filename_regex is not None:
            yield ("match", "attachment", j, "filename_regex"), cond.filename_regex


def _re2_reason(exc: Exception) -> str:
    raw = exc.args[0] if exc.args else exc
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    return text or "not supported by RE2 (backreferences and lookarounds are not)"


def _reference_problems(loaded: list[_Loaded]) -> list[Problem]:
    by_id = {lp.pack.pack.id: lp.pack for lp in loaded}
    problems = []
    for lp in loaded:
        for inc in lp.pack.includes:
            if inc not in by_id:
                problems.append(Problem(SourceLocation(lp.file, 1, 1),
                                        f"includes pack {inc!r}, which is not loaded (validate the folder holding it)"))
        for ref, where, rule_id in lp.refs:
            m = REF.match(ref)
            owner_id = m["pack"] or lp.pack.pack.id
            if m["pack"] and m["pack"] != lp.pack.pack.id and m["pack"] not in lp.pack.includes:
                problems.append(Problem(where, f"{ref!r}: pack {m['pack']!r} is not in this pack's includes", rule_id))
            elif owner_id in by_id and by_id[owner_id].term_list(m["list"]) is None:
                problems.append(Problem(where, f"unknown list {ref!r}", rule_id))
    return problems


def _cross_pack_problems(loaded: list[_Loaded]) -> list[Problem]:
    problems = []
    owners: dict[str, str] = {}
    pack_ids: dict[str, Path] = {}
    for lp in loaded:
        pid = lp.pack.pack.id
        if pid in pack_ids:
            problems.append(Problem(SourceLocation(lp.file, 1, 1), f"pack id {pid!r} also used by {pack_ids[pid]}"))
        pack_ids.setdefault(pid, lp.file)
        for rule in [*lp.pack.rules, *lp.pack.conversation]:
            if rule.id in owners and owners[rule.id] != pid:
                problems.append(Problem(SourceLocation(lp.file, 1, 1),
                                        f"rule id also defined in pack {owners[rule.id]!r}", rule.id))
            owners.setdefault(rule.id, pid)
    message_rules = {r.id for lp in loaded for r in lp.pack.rules}
    for lp in loaded:
        for i, rule in enumerate(lp.pack.conversation):
            where = lp.at(("conversation", i)) if lp.at else SourceLocation(lp.file, 1, 1)
            spec = getattr(rule, rule.kind)
            events = [e for e in [getattr(spec, name, None) for name in ("after", "expect", "first", "then", "event")]
                      + list(getattr(spec, "events", [])) if isinstance(e, Event)]
            unknown = sorted(({t for e in events for t in e.pii} | set(getattr(spec, "pii", []))) - set(PII_TYPES))
            if unknown:
                problems.append(Problem(where, f"unknown PII type(s) {', '.join(unknown)}; "
                                        f"known: {', '.join(PII_TYPES)}", rule.id))
            for event in events:
                if getattr(event, "rule", None) and event.rule not in message_rules:
                    problems.append(Problem(where, f"conversation rule refers to message "
                                            f"rule {event.rule!r}, which no loaded pack defines", rule.id))
    return problems


UNION_BRANCHES = {"str", "int", "bool", "Term", "TermList", "Example", "ExampleAttachment", "AttachmentCondition"}


def _clean_loc(loc: tuple[Any, ...]) -> Path_:
    """Drop pydantic's union-branch names (e.g. 'str', 'Example', 'list[...]') from an error path."""
    return tuple(p for p in loc if not (isinstance(p, str) and (p in UNION_BRANCHES
                                                                or p.startswith(("list[", "function-")))))


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        if str(p) not in seen:
            seen.add(str(p))
            out.append(p)
    return out


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
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    """YAML 1.2-like scalars: only true/false are booleans ('no' is a Spanish word, not False),
    '09:00' stays text (YAML 1.1 reads it as the base-60 number 540), floats stay text (a
    version '1.10' is not 1.1)."""
    if node.tag == "tag:yaml.org,2002:bool" and node.value.lower() not in ("true", "false"):
        return node.value
    if node.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") and (":" in node.value or "." in node.value):
        return node.value
    return yaml.SafeLoader(" ").construct_object(node)
