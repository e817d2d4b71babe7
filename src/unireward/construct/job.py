"""A running construction job and the per-prompt steps both engines share: commit a decision, record a
failure, open the row writers.

The local engine (`run`) and the Ray engine (`ray_engine`) both import this module; neither imports the
other's internals, so the driver-side bookkeeping is written once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unireward.construct.generators import Generator
from unireward.construct.items import PromptItem
from unireward.construct.judging import PromptContext
from unireward.construct.outputs import DROPPED_FILE, PAIRS_FILE, drop_row, pair_row, shared_media
from unireward.construct.sift import Decision, SiftConfig
from unireward.construct.store import Store
from unireward.records import JsonlWriter
from unireward.tasks import Task


@dataclass
class Job:
    """What a running job needs at hand (built once by `construct`)."""

    task: Task
    out: Path
    store: Store
    generator: Generator | None
    gen_key: str
    run_key: str
    n: int
    seed: int
    config: SiftConfig
    judge_ident: dict[str, Any]
    judge_info: dict[str, Any] = field(default_factory=dict)  # name and family, written in every row
    counts: Counter = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)




def fail(job: Job, item: PromptItem, stage: str, error: BaseException | str) -> None:
    msg = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    if item.id not in msg:
        msg = f"prompt {item.id!r}: {msg}"
    job.failures[item.id] = msg
    job.store.put_failure(job.run_key, item.id, stage, msg)


def commit(job: Job, ctx: PromptContext, d: Decision, writers: dict[str, Any]) -> None:
    """Record one prompt's decision in the store and append its row to the matching JSONL file."""
    item, cands = ctx.item, ctx.candidates
    if d.kept:
        shared = shared_media(item, job.out, ctx.media_hash) if item.media else None
        status, row = "kept", pair_row(job.task, item, cands, d, job.judge_info, job.out, shared)
    else:
        status, row = "dropped", drop_row(item, cands, d, job.judge_info)
    job.store.put_outcome(job.run_key, item.id, status, row)
    writers[status].write(row)
    job.counts["processed"] += 1


def open_writers(job: Job) -> dict[str, JsonlWriter]:
    """Appending writers for the kept and dropped rows (the caller closes them)."""
    return {"kept": JsonlWriter(job.out / PAIRS_FILE), "dropped": JsonlWriter(job.out / DROPPED_FILE)}
