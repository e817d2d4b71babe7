"""Recipes: which converted sources go into a training set, how much of each, in which order.

A recipe is YAML::

    seed: 0              # every random choice below derives from it
    shuffle: true        # shuffle the final mixture (default true)
    balance: null        # per-task balancing: null, "min" (every task cut to the smallest), or N (cap per task)
    swap: none           # order-swapped pairs: none, copies (add a swapped copy of each pair), random (swap half)
    sources:
      - path: hpd        # a folder written by `unireward data convert` (relative to the recipe's root)
        sample: all      # all | first:N | end:N | random:N ; N may be a percentage: random:25%
      - path: llava_critic
        form: point      # optional filters: form (pair|point), task
        sample: random:25000

Design choices a user will notice:
- Paths are resolved against ``root`` (the `root` argument, else the recipe's ``root:`` key, relative to
  the recipe file, else the recipe file's folder). A missing folder is an error naming the entry.
- Selection works on line offsets, not records: the mixture is chosen in one pass over each file and read
  back record by record, so memory holds a few integers per record, never the records.
- Each entry samples with its own generator derived from the seed and its position, so adding an entry
  does not change what the others select. ``random:N`` keeps file order among the chosen lines;
  asking for more than a file holds takes all of it, and the summary says so (``short``).
- Swapping exchanges the candidates and flips the winner (A <-> B; ties stay ties). Records with a
  rationale are never swapped: their text says "the first response ...", which the swap would falsify;
  the summary counts them.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from unireward.records import Record
from unireward.tasks import Form, Task


SWAP_MODES = ("none", "copies", "random")
_RULE = re.compile(r"^(all|first|end|random)(?::(\d+(?:\.\d+)?)(%?))?$")


class RecipeError(ValueError):
    """A recipe is malformed; the message names the entry and the field."""


@dataclass
class Entry:
    path: Path
    sample: str = "all"
    task: Task | None = None
    form: Form | None = None

    @property
    def name(self) -> str:
        filters = "/".join(str(x) for x in (self.task, self.form) if x)
        return f"{self.path.name}[{filters}]" if filters else self.path.name


@dataclass
class Recipe:
    entries: list[Entry]
    seed: int = 0
    shuffle: bool = True
    balance: int | str | None = None
    swap: str = "none"

    @classmethod
    def load(cls, path: str | Path, root: str | Path | None = None) -> Recipe:
        path = Path(path)
        import yaml

        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as e:
            raise RecipeError(f"{path}: invalid YAML ({e})") from None
        if not isinstance(data, dict) or not isinstance(data.get("sources"), list) or not data["sources"]:
            raise RecipeError(f"{path}: a recipe needs a non-empty 'sources' list")
        unknown = set(data) - {"seed", "shuffle", "balance", "swap", "root", "sources"}
        if unknown:
            raise RecipeError(f"{path}: unknown key(s) {sorted(unknown)}")
        base = Path(root) if root is not None else path.parent / data.get("root", ".")
        entries = [_entry(e, i, base, path) for i, e in enumerate(data["sources"])]
        recipe = cls(entries, seed=data.get("seed", 0), shuffle=data.get("shuffle", True),
                     balance=data.get("balance"), swap=data.get("swap", "none") or "none")
        recipe.check(str(path))
        return recipe

    def check(self, where: str = "recipe") -> None:
        if not isinstance(self.seed, int):
            raise RecipeError(f"{where}: 'seed' must be an integer, got {self.seed!r}")
        if self.swap not in SWAP_MODES:
            raise RecipeError(f"{where}: 'swap' must be one of {SWAP_MODES}, got {self.swap!r}")
        ok = self.balance is None or self.balance == "min" or (isinstance(self.balance, int) and self.balance > 0)
        if not ok:
            raise RecipeError(f"{where}: 'balance' must be null, 'min' or a positive integer, got {self.balance!r}")
        for i, e in enumerate(self.entries):
            _rule(e.sample, f"{where}: sources[{i}] ({e.name})")


def _entry(d: Any, i: int, base: Path, recipe: Path) -> Entry:
    where = f"{recipe}: sources[{i}]"
    if not isinstance(d, dict) or not d.get("path"):
        raise RecipeError(f"{where} needs a 'path'")
    unknown = set(d) - {"path", "sample", "task", "form"}
    if unknown:
        raise RecipeError(f"{where}: unknown key(s) {sorted(unknown)}")
    try:
        task = Task.parse(d["task"]) if d.get("task") else None
        form = Form.parse(d["form"]) if d.get("form") else None
    except ValueError as e:
        raise RecipeError(f"{where}: {e}") from None
    path = base / d["path"]
    if not (path / "records.jsonl").is_file():
        raise RecipeError(f"{where}: {path / 'records.jsonl'} not found (convert the source first)")
    return Entry(path, str(d.get("sample", "all")), task, form)


def _rule(rule: str, where: str) -> tuple[str, float | None, bool]:
    m = _RULE.match(rule.strip())
    if not m or (m[1] == "all") != (m[2] is None):
        raise RecipeError(f"{where}: invalid sample rule {rule!r}; use all, first:N, end:N, random:N or a "
                          "percentage such as random:25%")
    n = float(m[2]) if m[2] else None
    if n is not None and (n < 0 or (m[3] and n > 100) or (not m[3] and not n.is_integer())):
        raise RecipeError(f"{where}: invalid count in sample rule {rule!r}")
    return m[1], n, bool(m[3])


# ----------------------------------------------------------------------------------------------------------
# selection


@dataclass(frozen=True)
class Pick:
    """One selected line: its file, byte offset, task, and whether to swap the pair's order."""

    file: Path
    offset: int
    task: str
    swap: bool = False


@dataclass
class Mixture:
    picks: list[Pick]
    report: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Line:
    offset: int
    task: str
    swappable: bool


def _index(entry: Entry) -> list[_Line]:
    """The lines of an entry's records.jsonl that pass its filters (one pass, offsets only)."""
    lines, offset = [], 0
    with open(entry.path / "records.jsonl", "rb") as f:
        for raw in f:
            start, offset = offset, offset + len(raw)
            if not raw.strip():
                continue
            d = json.loads(raw)
            if (entry.task and d["task"] != entry.task.value) or (entry.form and d["form"] != entry.form.value):
                continue
            lines.append(_Line(start, d["task"], d["form"] == "pair" and not d.get("rationale")))
    return lines


def _sample(lines: list, rule: str, rng: random.Random) -> tuple[list, int]:
    """(selected lines, requested count)."""
    kind, n, pct = _rule(rule, "sample")
    if kind == "all":
        return lines, len(lines)
    k = round(len(lines) * n / 100) if pct else int(n)
    if kind == "first":
        return lines[:k], k
    if kind == "end":
        return (lines[-k:] if k else []), k
    chosen = sorted(rng.sample(range(len(lines)), min(k, len(lines))))
    return [lines[i] for i in chosen], k


def _balance(picked: list[tuple[Path, _Line]], balance, rng: random.Random) -> list[tuple[Path, _Line]]:
    by_task: dict[str, list] = defaultdict(list)
    for item in picked:
        by_task[item[1].task].append(item)
    cap = min(len(v) for v in by_task.values()) if balance == "min" else balance
    out = []
    for task in sorted(by_task):
        items = by_task[task]
        keep = sorted(rng.sample(range(len(items)), cap)) if len(items) > cap else range(len(items))
        out.extend(items[i] for i in keep)
    return out


def select(recipe: Recipe) -> Mixture:
    """Choose the mixture's lines (deterministic for the recipe's seed) and report the counts."""
    seed = recipe.seed
    picked: list[tuple[Path, _Line]] = []
    entries = []
    for i, e in enumerate(recipe.entries):
        lines = _index(e)
        chosen, requested = _sample(lines, e.sample, random.Random(f"{seed}:entry:{i}"))
        entries.append({"name": e.name, "path": str(e.path), "sample": e.sample, "available": len(lines),
                        "selected": len(chosen), "short": max(0, requested - len(chosen))})
        picked.extend((e.path / "records.jsonl", line) for line in chosen)
    if recipe.balance is not None and picked:
        picked = _balance(picked, recipe.balance, random.Random(f"{seed}:balance"))
    picks, unswappable, rng = [], 0, random.Random(f"{seed}:swap")
    for file, line in picked:
        flip = recipe.swap == "random" and line.swappable and rng.random() < 0.5
        picks.append(Pick(file, line.offset, line.task, flip))
        if recipe.swap == "copies" and line.swappable:
            picks.append(Pick(file, line.offset, line.task, True))
        unswappable += recipe.swap != "none" and not line.swappable
    if recipe.shuffle:
        random.Random(f"{seed}:shuffle").shuffle(picks)
    report = {"seed": seed, "entries": entries, "balance": recipe.balance, "swap": recipe.swap,
              "swapped": sum(p.swap for p in picks), "not_swapped_pointwise_or_rationale": unswappable,
              "total": len(picks), "by_task": dict(sorted(Counter(p.task for p in picks).items()))}
    return Mixture(picks, report)


# ----------------------------------------------------------------------------------------------------------
# reading the mixture back


def swapped(record: Record) -> Record:
    """The pair in the other order: candidates exchanged, winner flipped (ties stay ties)."""
    label = dict(record.label or {})
    if "winner" in label:
        label["winner"] = {"A": "B", "B": "A"}.get(label["winner"], label["winner"])
    return replace(record, id=f"{record.id}#swap", candidates=record.candidates[::-1], label=label,
                   meta={**record.meta, "swapped": True})


def iter_mixture(mixture: Mixture) -> Iterator[tuple[Record, Path]]:
    """Each selected record (swapped when picked so) with the folder its media paths are relative to."""
    handles: dict[Path, Any] = {}
    try:
        for p in mixture.picks:
            f = handles.get(p.file) or handles.setdefault(p.file, open(p.file, "rb"))
            f.seek(p.offset)
            record = Record.from_dict(json.loads(f.readline()), f"{p.file}@{p.offset}")
            yield (swapped(record) if p.swap else record), p.file.parent
    finally:
        for f in handles.values():
            f.close()
