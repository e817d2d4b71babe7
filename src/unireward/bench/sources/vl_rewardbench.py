"""VL-RewardBench (`MMInstruction/VL-RewardBench`): 1,250 image-understanding pairs.

Reads ``data/test-00000-of-00001.parquet`` (or any parquet file given directly): `id`, `query`,
`response` (two texts), `image` (embedded bytes), `human_ranking` (``[0, 1]``: the first response is
better, ``[1, 0]``: the second).

Design choices a user will notice:
- The category comes from the id prefix with the official mapping (`vl-rewardbench` ``cal.py``), including
  its "povid" fix: ``hallucination_pair-*`` ids are hallucination items. UnifiedReward's own scripts lack the
  fix and count them as general (631/301/318 instead of 183/749/318); overall accuracy is unaffected, the
  per-category and macro numbers are.
- ``record.meta``: ``category`` (general / hallucination / reasoning, the three macro groups) and ``subset``
  (rlaif-v, rlhf-v, povid, reasoning_tasks, wildvision-battle, vlfeedback).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from unireward.bench.sources._common import BenchDataError, LoadContext, check_columns, find_files, parquet_rows
from unireward.records import Record
from unireward.tasks import Form, Task


BENCH = "vl-rewardbench"
SPLITS = ("test",)
COLUMNS = ("id", "query", "response", "image", "human_ranking")

_PREFIX_SUBSET = {"RLAIF": "rlaif-v", "RLHF": "rlhf-v", "mathverse": "reasoning_tasks", "mmmu": "reasoning_tasks",
                  "wildvision": "wildvision-battle", "hallucination": "povid"}
SUBSET_GROUP = {"vlfeedback": "general", "wildvision-battle": "general", "povid": "hallucination",
                "rlhf-v": "hallucination", "rlaif-v": "hallucination", "reasoning_tasks": "reasoning"}
GROUPS = ("general", "hallucination", "reasoning")


def subset_of(item_id: str) -> str:
    """The official fine category of an id: the text before the first ``_`` or ``-``, mapped."""
    prefix = re.split(r"[_-]", item_id, maxsplit=1)[0]
    return _PREFIX_SUBSET.get(prefix, "vlfeedback")


def category_of(item_id: str) -> str:
    """general, hallucination or reasoning (the groups of the macro accuracy)."""
    return SUBSET_GROUP[subset_of(item_id)]


def load(data: Path, ctx: LoadContext) -> Iterator[Record]:
    split = ctx.split or "test"
    if split not in SPLITS:
        raise ValueError(f"{BENCH}: unknown split {split!r}; valid: {', '.join(SPLITS)}")
    for path in find_files(data, [f"data/{split}-*.parquet", f"{split}-*.parquet", "**/*.parquet"], BENCH,
                           "parquet file"):
        check_columns(path, COLUMNS, BENCH)
        for i, row in enumerate(parquet_rows(path)):
            item = f"{path.name} row {i} (id {row.get('id')!r})"
            try:
                yield _record(row, item, ctx)
            except BenchDataError as e:
                ctx.on_error(e)


def _record(row: dict[str, Any], item: str, ctx: LoadContext) -> Record:
    item_id = row["id"]
    if not isinstance(item_id, str) or not item_id:
        raise BenchDataError(f"{BENCH}: {item}: field 'id' must be a non-empty string", item)
    responses = row["response"]
    if not (isinstance(responses, list) and len(responses) == 2 and all(isinstance(r, str) for r in responses)):
        raise BenchDataError(f"{BENCH}: {item}: field 'response' must hold two strings", item)
    if not isinstance(row["query"], str) or not row["query"].strip():
        raise BenchDataError(f"{BENCH}: {item}: field 'query' must be a non-empty string", item)
    ranking = list(row["human_ranking"] or [])
    if ranking not in ([0, 1], [1, 0]):
        raise BenchDataError(f"{BENCH}: {item}: field 'human_ranking' must be [0, 1] or [1, 0], got {ranking}", item)
    image = ctx.save_image(row["image"], f"{BENCH}: {item}: field 'image'")
    subset = subset_of(item_id)
    return Record(id=item_id, source=BENCH, task=Task.IMAGE_UNDERSTANDING, form=Form.PAIR, prompt=row["query"],
                  media=[{"image": image}], candidates=[{"text": responses[0]}, {"text": responses[1]}],
                  label={"winner": "A" if ranking == [0, 1] else "B"},
                  meta={"category": SUBSET_GROUP[subset], "subset": subset})
