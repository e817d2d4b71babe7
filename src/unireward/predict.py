"""Judging unified records into prediction rows: the one batched, incremental, resumable loop.

`unireward judge run` (`predict_file`: every record of a file, pairwise and pointwise, as given) and
`unireward bench run` (`predict` with ``order="seeded"`` or ``"both"``) share it, so they write the same
rows (`unireward.records.prediction_row`) and resume the same way.

Design choices a user will notice:
- Order. ``order="given"`` shows each pair as the record has it (a judge with ``swap=True`` still judges
  both orders itself). ``"seeded"`` shows each pair once, in an order drawn from the seed and the record id
  (a hash, not a running random stream), so an item keeps its order across resumed runs, ``--limit`` values
  and machines; the gold label is swapped with it. ``"both"`` writes two rows per pair (``<id>`` and
  ``<id>~swapped``), which measures position bias.
- Incremental. Rows are appended and flushed as each batch finishes. A resumed run skips ids whose row is
  final; an item for which no answer was produced (unreadable media, the judge raised) is written with
  ``failed: true`` and judged again on the next resume (its old row is dropped first, so a file holds one
  row per id). An answer that could not be parsed is final: it is the judge's answer, counted as unparsed.
- Refusals, before any judging: an output file that is not a predictions file (it is never touched),
  predictions made with another judge, mode or family (every row records them), duplicate record ids
  (``7`` and ``"7"`` are the same id; a missing or null id is an invalid record), and, in the commands
  (`check_modes`), a mode the judge cannot use on a template the records need (logprob where the answer
  reasons first); the library loop judges such items as per-row errors instead.
- A batch that raises is retried one item at a time, so one bad item cannot take its neighbours down.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from unireward.records import (
    FLIP,
    JsonlWriter,
    Record,
    RecordError,
    failed_row,
    prediction_row,
    read_records,
)
from unireward.tasks import Form


ORDERS = ("given", "seeded", "both")
SWAP_SUFFIX = "~swapped"
SETTINGS = ("judge", "mode", "family", "swap")  # recorded in every row; a resume must match them


class PredictionError(ValueError):
    """A predictions run cannot start or continue; the message names the file and the reason."""


@dataclass(frozen=True)
class Presentation:
    """One record shown to the judge in one order."""

    record: Record
    swapped: bool = False
    both_orders: bool = False

    @property
    def id(self) -> str:
        return self.record.id + SWAP_SUFFIX if self.both_orders and self.swapped else self.record.id

    def judge_item(self, base: Path) -> dict[str, Any]:
        """The `compare_batch` / `score_batch` item: `Record.judge_inputs`, a and b exchanged if swapped."""
        item = self.record.judge_inputs(base)
        if self.swapped:
            item["a"], item["b"] = item["b"], item["a"]
        return item


def seeded_swap(record_id: str, seed: int) -> bool:
    """Whether the seeded order shows this record swapped: one bit of sha256(seed, id)."""
    return hashlib.sha256(f"{seed}:{record_id}".encode()).digest()[0] & 1 == 1


def presentations(records: Iterable[Record], order: str = "given", seed: int = 0) -> Iterator[Presentation]:
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}; valid: {', '.join(ORDERS)}")
    for rec in records:
        if rec.form == Form.POINT or order == "given":
            yield Presentation(rec)
        elif order == "both":
            yield Presentation(rec, False, both_orders=True)
            yield Presentation(rec, True, both_orders=True)
        else:
            yield Presentation(rec, seeded_swap(rec.id, seed))


@dataclass
class RunStats:
    judged: int = 0
    skipped_done: int = 0
    failed: int = 0
    unparsed: int = 0


def judge_settings(judge: Any) -> dict[str, Any]:
    """What a prediction row records about the judge that made it."""
    return {"judge": getattr(judge, "name", type(judge).__name__), "mode": getattr(judge, "mode", None),
            "family": getattr(judge, "family", None), "swap": getattr(judge, "swap", None)}


def predict(judge: Any, records: Iterable[Record], output: str | Path, *, base: str | Path = ".",
            order: str = "given", seed: int = 0, batch_size: int | None = None,
            progress: Callable[[int], None] | None = None) -> RunStats:
    """Judge every presentation of `records` not yet final in `output`, appending one row per presentation.

    `judge` is anything with ``compare_batch`` (pairs) and ``score_batch`` (points); `base` is the folder
    the records' relative media paths start from; `progress` is called with the number of rows written.
    """
    output, base = Path(output), Path(base)
    todo = list(presentations(records, order, seed))
    _refuse_duplicates(todo)
    settings = judge_settings(judge)
    done = open_predictions(output, settings)
    stats = RunStats(skipped_done=sum(p.id in done for p in todo))
    todo = [p for p in todo if p.id not in done]
    size = max(1, batch_size or getattr(judge, "batch_size", 8))
    with JsonlWriter(output) as w:
        for start in range(0, len(todo), size):
            batch = todo[start:start + size]
            for row in _judge_batch(judge, batch, base):
                w.write(row | settings)
                stats.judged += 1
                stats.failed += bool(row.get("failed"))
                stats.unparsed += _unparsed(row)
            if progress:
                progress(len(batch))
    return stats


def predict_file(judge: Any, input_path: str | Path, output_path: str | Path, *, limit: int | None = None,
                 batch_size: int | None = None, progress: bool = True, check: bool = True) -> dict[str, Any]:
    """Judge the records of a JSONL file (`unireward judge run`); invalid lines are reported and skipped.
    With `check`, a mode the needed templates cannot take fails before any judging (`check_modes`)."""
    from tqdm import tqdm

    input_path = Path(input_path)
    if not input_path.is_file():
        raise PredictionError(f"{input_path}: no such records file")
    invalid: list[str] = []
    records = list(islice(read_records(input_path, on_error=lambda e: invalid.append(str(e))), limit))
    if check:
        check_modes(judge, records)
    with tqdm(total=len(records), desc=f"judging {input_path.name}", unit="item", disable=not progress) as bar:
        stats = predict(judge, records, output_path, base=input_path.parent, batch_size=batch_size,
                        progress=bar.update)
    return {"output": str(output_path), "already_done": stats.skipped_done, "judged": stats.judged,
            "failed": stats.failed, "unparsed": stats.unparsed, "invalid_records": len(invalid),
            "invalid_examples": invalid[:20]}


# ---------------------------------------------------------------------- one batch
def _judge_batch(judge: Any, batch: list[Presentation], base: Path) -> list[dict[str, Any]]:
    """Prediction rows per presentation; input or judge exceptions become `failed` rows naming the problem."""
    out: list[dict[str, Any] | None] = [None] * len(batch)
    for form in (Form.PAIR, Form.POINT):
        idx, items = [], []
        for i, p in enumerate(batch):
            if p.record.form != form:
                continue
            try:
                items.append(p.judge_item(base))
                idx.append(i)
            except Exception as e:
                out[i] = _failed(p, e)
        for i, result in zip(idx, _results(judge, form, items, [batch[i] for i in idx]), strict=True):
            p = batch[i]
            out[i] = result if isinstance(result, dict) else prediction_row(p.record, result, p.id, p.swapped)
    return out


def _results(judge: Any, form: Form, items: list[dict], shown: list[Presentation]) -> list[Any]:
    """Verdicts or Scores; when the whole call raises, item by item, and what still raises is a failed row."""
    try:
        return _call(judge, form, items)
    except Exception as e:
        if len(items) == 1:
            return [_failed(shown[0], e)]
        out = []
        for item, p in zip(items, shown, strict=True):
            try:
                out.append(_call(judge, form, [item])[0])
            except Exception as e1:
                out.append(_failed(p, e1))
        return out


def _call(judge: Any, form: Form, items: list[dict]) -> list[Any]:
    if not items:
        return []
    results = judge.compare_batch(items) if form == Form.PAIR else judge.score_batch(items)
    if len(results) != len(items):
        raise RuntimeError(f"the judge returned {len(results)} results for {len(items)} items")
    return results


def _failed(p: Presentation, e: Exception) -> dict[str, Any]:
    return failed_row(p.record, p.id, p.swapped, f"{p.record.id}: {type(e).__name__}: {e}")


def _unparsed(row: dict[str, Any]) -> bool:
    value = row.get("pred") if row["form"] == Form.PAIR.value else row.get("score")
    return value is None and not row.get("failed")


def check_modes(judge: Any, records: Iterable[Record]) -> None:
    """Raise `PredictionError` when the judge's mode cannot read a template the records need (logprob on a
    template whose answer writes reasoning or dimension lines first). The commands call it to fail before
    any judging; `predict` itself judges such items as per-row errors, so a library caller's batch goes on."""
    check = getattr(judge, "check_mode", None)
    for task, form in sorted({(r.task, r.form) for r in records}) if check else ():
        try:
            check(task, form)
        except ValueError as e:
            raise PredictionError(str(e)) from None


def _refuse_duplicates(todo: list[Presentation]) -> None:
    seen: set[str] = set()
    dups = [p.id for p in todo if p.id in seen or seen.add(p.id)]
    if dups:
        raise PredictionError(f"duplicate record id(s) {sorted(set(dups))[:10]}: every record needs its own id "
                              "(ids are compared as strings, so 7 and \"7\" are the same)")


# ---------------------------------------------------------------------- the predictions file
def read_predictions(path: str | Path) -> list[dict[str, Any]]:
    """All rows of a finished predictions file (a folder: its predictions.jsonl).

    A last line without a newline is kept when it is a whole JSON row; a cut one (a run killed, or still
    writing) is an error naming the file, as is any invalid line or a row without an id.
    """
    path = _predictions_path(path)
    rows = []
    lines = path.read_text(encoding="utf-8").split("\n")
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            last = lineno == len(lines)
            why = "the last line is cut (a run still writing, or killed: resume it)" if last else "invalid JSON"
            raise PredictionError(f"{path}:{lineno}: {why} ({e.msg})") from None
        if not isinstance(row, dict) or row.get("id") is None:
            raise PredictionError(f"{path}:{lineno}: not a prediction row (a JSON object with an 'id')")
        rows.append(row)
    return rows


def latest_rows(rows: Iterable[dict[str, Any]], where: str = "predictions") -> list[dict[str, Any]]:
    """One row per id: the latest. A failed row may be followed by its retry; two final rows for one id
    mean two runs were mixed, which is an error (it would silently drop a prediction)."""
    latest: dict[str, dict[str, Any]] = {}
    for r in rows:
        key = str(r["id"])
        if key in latest and not latest[key].get("failed"):
            raise PredictionError(f"{where}: id {key!r} has two final predictions")
        latest[key] = r
    return list(latest.values())


def open_predictions(path: str | Path, settings: dict[str, Any] | None = None) -> set[str]:
    """Prepare `path` for appending and return the ids whose latest row is final.

    Refuses a file that is not a predictions file (before touching it) and one whose rows were made with
    other `settings`. Then drops what the resumed run redoes: a half-written last line, and the rows of
    failed items (they are judged again), so the file keeps one row per id."""
    path = Path(path)
    if not path.exists():
        return set()
    if path.is_dir():
        raise PredictionError(f"{path} is a folder; give the predictions file (e.g. {path / 'predictions.jsonl'})")
    lines, partial = _scan(path)
    rows = [row for _, row in lines]
    if settings:
        _check_settings(path, rows, settings)
    final = {id(r) for r in latest_rows(rows, str(path)) if not r.get("failed")}
    if partial or len(final) < len(rows):
        _atomic_write(path, "".join(text + "\n" for text, row in lines if id(row) in final))
    return {str(row["id"]) for _, row in lines if id(row) in final}


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _scan(path: Path) -> tuple[list[tuple[str, dict[str, Any]]], bool]:
    """The (text, row) of every whole line, and whether a partial last line follows them."""
    data = path.read_bytes().decode("utf-8", errors="replace")
    lines = data.split("\n")
    partial = bool(lines[-1])  # the text after the last newline
    out = []
    for lineno, line in enumerate(lines[:-1], 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        if not isinstance(row, dict) or "id" not in row or not ({"pred", "score", "failed"} & row.keys()):
            raise PredictionError(f"{path}:{lineno}: this file is not a predictions file (a JSON row with 'id' "
                                  "and 'pred' or 'score'); it was left untouched: choose another output")
        out.append((line, row))
    if partial and not out and not lines[-1].lstrip().startswith("{"):
        raise PredictionError(f"{path}: this file is not a predictions file; it was left untouched")
    return out, partial


def _check_settings(path: Path, rows: list[dict[str, Any]], settings: dict[str, Any]) -> None:
    for row in rows:
        diffs = [f"{k}: {row.get(k)!r} there, {settings[k]!r} now" for k in SETTINGS
                 if k in row and row[k] != settings.get(k)]
        if diffs:
            raise PredictionError(f"{path} holds predictions made with other settings ({'; '.join(diffs)}); "
                                  "use another output file")


def _predictions_path(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        inner = path / "predictions.jsonl"
        if not inner.is_file():
            raise PredictionError(f"{path} is a folder without predictions.jsonl")
        return inner
    if not path.exists():
        raise PredictionError(f"{path}: no such predictions file")
    return path


__all__ = ["FLIP", "ORDERS", "SWAP_SUFFIX", "Presentation", "PredictionError", "RecordError", "RunStats",
           "check_modes", "judge_settings", "latest_rows", "open_predictions", "predict", "predict_file",
           "presentations", "read_predictions", "seeded_swap"]
