"""Judging a file of unified records: batched, incremental, resumable (`unireward judge run`).

Each prediction is written (and flushed) as soon as its batch finishes; a rerun skips the ids already in
the output and redoes a half-written last line, so an interrupted job resumes without duplicating or
losing rows. Invalid records are reported with their line and skipped; items that fail (missing media,
unparseable answers) are written with their `error`, so they are counted, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from unireward.records import JsonlWriter, Record, completed_ids, read_records
from unireward.tasks import Form, Score, Verdict


def prediction_row(record: Record, result: Verdict | Score, model: str) -> dict[str, Any]:
    """One line of predictions.jsonl; pairwise rows carry what `bench score` reads (label, pred, margin)."""
    row: dict[str, Any] = {"id": record.id, "task": record.task.value, "form": record.form.value,
                           "source": record.source, "model": model}
    if "category" in record.meta:
        row["category"] = record.meta["category"]
    if isinstance(result, Verdict):
        row.update(label=record.winner, pred=result.winner, prob_a=result.prob_a,
                   margin=None if result.prob_a is None else 2 * result.prob_a - 1, probs=result.probs,
                   dims=result.dims)
        if result.swapped is not None:
            row["swapped_pred"] = result.swapped.winner
    else:
        label = record.label or {}
        row.update(label_score=label.get("score"), label_scale=label.get("scale"), score=result.value,
                   scale=list(result.scale), normalized=result.normalized, dims=result.dims or None)
    row.update(text=result.text, error=result.error)
    return row


def _batches(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    while batch := list(islice(records, size)):
        yield batch


def judge_records(judge: Any, input_path: str | Path, output_path: str | Path, batch_size: int = 8,
                  limit: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Judge every record of `input_path` into `output_path` (JSONL); returns a summary."""
    from tqdm import tqdm

    input_path, output_path = Path(input_path), Path(output_path)
    done = completed_ids(output_path)
    invalid: list[str] = []
    records = (r for r in read_records(input_path, on_error=lambda e: invalid.append(str(e))) if r.id not in done)
    if limit is not None:
        records = islice(records, max(0, limit - len(done)))
    base = input_path.parent
    counts = {"judged": 0, "failed": 0}
    bar = tqdm(desc=f"judging {input_path.name}", unit="item", disable=not progress)
    with JsonlWriter(output_path) as out:
        for batch in _batches(records, batch_size):
            for form in (Form.PAIR, Form.POINT):
                part = [r for r in batch if r.form == form]
                if not part:
                    continue
                items = [r.judge_inputs(base) for r in part]
                results = judge.compare_batch(items) if form == Form.PAIR else judge.score_batch(items)
                for r, res in zip(part, results):
                    out.write(prediction_row(r, res, getattr(judge, "name", "judge")))
                    counts["judged"] += 1
                    counts["failed"] += res.error is not None and not res.ok
            bar.update(len(batch))
    bar.close()
    return {"output": str(output_path), "already_done": len(done), **counts,
            "invalid_records": len(invalid), "invalid_examples": invalid[:20]}

