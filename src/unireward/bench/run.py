"""Judging benchmark records: presentation order, the batched judge loop, resumable prediction files.

Design choices a user will notice:
- Order randomisation. ``swap="seeded"`` shows each pair once, in an order drawn from the seed and the
  record id (a hash, not a running random stream), so the same item gets the same order across resumed
  runs, ``--limit`` values and machines; the gold label is swapped with it. ``swap="both"`` shows every pair
  in both orders (two rows: ``<id>`` and ``<id>~swapped``), which measures position bias
  (``order_consistency``). Every row records ``swapped``.
- A prediction row holds the label and verdict *in the order shown*; ``margin`` is ``2 * prob_a - 1`` when
  the judge gives a probability (logprob mode, the 2.0 family), else null.
- Rows are appended and flushed as each batch finishes. A resumed run skips ids already written.
  An item for which no answer was produced (the judge raised, or returned an error with no text: unreadable
  media, out of memory) is written with ``failed: true`` and ``pred: null`` and is judged again on the next
  resume; metrics keep the last row of each id. An answer that could not be parsed is final: it is the
  judge's answer, counted as unparsed (wrong).
- If ``compare_batch`` raises for a whole batch, the batch is retried one item at a time, so one bad item
  cannot take its neighbours down.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from unireward.records import JsonlWriter, Record, completed_ids


SWAP_MODES = ("seeded", "both")
SWAP_SUFFIX = "~swapped"
_FLIP = {"A": "B", "B": "A", "tie": "tie"}


class PairJudge(Protocol):
    def compare_batch(self, items: list[dict[str, Any]]) -> list[Any]: ...


@dataclass(frozen=True)
class Presentation:
    """One record shown to the judge in one order."""

    record: Record
    swapped: bool
    both_orders: bool = False

    @property
    def id(self) -> str:
        return self.record.id + SWAP_SUFFIX if self.both_orders and self.swapped else self.record.id


def seeded_swap(record_id: str, seed: int) -> bool:
    """Whether the seeded order shows this record swapped: one bit of sha256(seed, id)."""
    return hashlib.sha256(f"{seed}:{record_id}".encode()).digest()[0] & 1 == 1


def presentations(records: Iterable[Record], swap: str = "seeded", seed: int = 0) -> Iterator[Presentation]:
    if swap not in SWAP_MODES:
        raise ValueError(f"unknown swap mode {swap!r}; valid: {', '.join(SWAP_MODES)}")
    for rec in records:
        if swap == "both":
            yield Presentation(rec, False, both_orders=True)
            yield Presentation(rec, True, both_orders=True)
        else:
            yield Presentation(rec, seeded_swap(rec.id, seed))


def judge_item(p: Presentation, base: Path) -> dict[str, Any]:
    """The `compare_batch` item for a presentation: `Record.judge_inputs` with a/b exchanged if swapped."""
    item = p.record.judge_inputs(base)
    if p.swapped:
        item["a"], item["b"] = item["b"], item["a"]
    return item


def _flip_pair(value: list | None, swapped: bool) -> list | None:
    return list(reversed(value)) if swapped and value is not None else value


def base_row(p: Presentation) -> dict[str, Any]:
    """The judge-independent part of a prediction row: ids, order, label and benchmark fields, as shown."""
    meta, s = p.record.meta, p.swapped
    label = p.record.winner
    row: dict[str, Any] = {"id": p.id, "record_id": p.record.id, "swapped": s,
                           "label": _FLIP[label] if s and label else label}
    for key in ("category", "subset", "vote_type", "group"):
        if meta.get(key) is not None:
            row[key] = meta[key]
    if meta.get("dims"):
        row["dims"] = {d: _FLIP[v] if s else v for d, v in meta["dims"].items()}
    for key in ("members", "ranks"):
        if meta.get(key) is not None:
            row[key] = _flip_pair(meta[key], s)
    return row


def verdict_fields(v: Any) -> dict[str, Any]:
    """pred, margin and evidence from a `Verdict` (or anything with the same attributes)."""
    prob_a, winner = getattr(v, "prob_a", None), getattr(v, "winner", None)
    text, error = getattr(v, "text", "") or "", getattr(v, "error", None)
    out = {"pred": winner if winner in _FLIP else None,
           "margin": None if prob_a is None else 2.0 * float(prob_a) - 1.0,
           "prob_a": prob_a, "probs": getattr(v, "probs", None), "text": text, "error": error}
    if getattr(v, "dims", None):
        out["pred_dims"] = v.dims  # the 2.0 family's per-dimension share of A (Alignment, Coherence, Style)
    if out["pred"] is None and error and not text:
        out["failed"] = True  # no answer was produced (unreadable media, a crash): judged again on resume
    return out


def _judge_batch(judge: PairJudge, batch: list[Presentation], base: Path) -> list[dict[str, Any]]:
    """Verdict fields per presentation; input or judge exceptions become `failed` rows naming the problem."""
    items, ready, out = [], [], [None] * len(batch)
    for i, p in enumerate(batch):
        try:
            items.append(judge_item(p, base))
            ready.append(i)
        except Exception as e:
            out[i] = _failed(p, e)
    try:
        for i, v in zip(ready, _compare(judge, items), strict=True):
            out[i] = verdict_fields(v)
    except Exception as e:
        for i, item in zip(ready, items, strict=True):
            try:
                out[i] = verdict_fields(_compare(judge, [item])[0]) if len(items) > 1 else _failed(batch[i], e)
            except Exception as e1:
                out[i] = _failed(batch[i], e1)
    return out


def _compare(judge: PairJudge, items: list[dict[str, Any]]) -> list[Any]:
    verdicts = judge.compare_batch(items) if items else []
    if len(verdicts) != len(items):
        raise RuntimeError(f"compare_batch returned {len(verdicts)} verdicts for {len(items)} items")
    return verdicts


def _failed(p: Presentation, e: Exception) -> dict[str, Any]:
    return {"pred": None, "margin": None, "prob_a": None, "probs": None, "text": "",
            "error": f"{p.record.id}: {type(e).__name__}: {e}", "failed": True}


@dataclass
class RunStats:
    judged: int = 0
    skipped_done: int = 0
    failed: int = 0
    unparsed: int = 0


def run_judge(judge: PairJudge, records: Iterable[Record], predictions: str | Path, *, base: str | Path = ".",
              swap: str = "seeded", seed: int = 0, batch_size: int = 8, judge_name: str | None = None,
              progress: Callable[[int], None] | None = None) -> RunStats:
    """Judge every presentation of `records` not yet in `predictions`, appending one row per presentation.

    `judge` is anything with ``compare_batch(items) -> list[Verdict]``; `base` is the folder that the
    records' relative media paths start from. `progress` is called with the number of rows just written.
    """
    predictions, base = Path(predictions), Path(base)
    done = finished_ids(predictions)
    todo = list(presentations(records, swap, seed))
    stats = RunStats(skipped_done=sum(p.id in done for p in todo))
    todo = [p for p in todo if p.id not in done]
    name = judge_name or getattr(judge, "name", type(judge).__name__)
    with JsonlWriter(predictions) as w:
        for start in range(0, len(todo), max(1, batch_size)):
            batch = todo[start:start + batch_size]
            for p, fields in zip(batch, _judge_batch(judge, batch, base), strict=True):
                w.write(base_row(p) | fields | {"judge": name})
                stats.judged += 1
                stats.failed += bool(fields.get("failed"))
                stats.unparsed += fields["pred"] is None and not fields.get("failed")
            if progress:
                progress(len(batch))
    return stats


def read_predictions(path: str | Path, repair: bool = False) -> list[dict[str, Any]]:
    """All rows of a predictions file. An unterminated last line (a run killed, or still writing) is ignored;
    with `repair` it is also cut from the file, as a resumed run does before appending."""
    path = Path(path)
    if repair:
        completed_ids(path)
    data = path.read_text(encoding="utf-8")
    lines = data.split("\n")
    if not data.endswith("\n"):
        lines = lines[:-1]  # partial (or empty) last line
    rows = []
    for lineno, line in enumerate(lines, 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{lineno}: invalid JSON ({e.msg})") from None
    return rows


def finished_ids(path: str | Path) -> set[str]:
    """Ids whose latest row is final (not `failed`): a resumed run skips them."""
    if not Path(path).exists():
        return set()
    latest: dict[str, dict] = {}
    for r in read_predictions(path, repair=True):
        latest[str(r["id"])] = r
    return {i for i, r in latest.items() if not r.get("failed")}
