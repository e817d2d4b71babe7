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
from typing import TYPE_CHECKING, Any

from unireward.data.sources.common import RowError, find_files, image_bytes, need_text, parquet_rows
from unireward.records import Record
from unireward.tasks import Form, Task


if TYPE_CHECKING:
    from unireward.bench.sources import LoadContext

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
    patterns = [f"data/{ctx.split}-*.parquet", f"{ctx.split}-*.parquet", "**/*.parquet"]
    return ctx.each(parquet_rows(data, COLUMNS, files=find_files(data, patterns, "parquet")),
                    lambda row: [_record(row.data, ctx)])


def _record(d: dict[str, Any], ctx: LoadContext) -> Record:
    need_text(d, "id")
    item_id = d["id"]
    try:
        need_text(d, "query")
        responses = d["response"]
        if not (isinstance(responses, list) and len(responses) == 2 and all(isinstance(r, str) for r in responses)):
            raise RowError("field 'response' must hold two strings")
        ranking = list(d["human_ranking"] or [])
        if ranking not in ([0, 1], [1, 0]):
            raise RowError(f"field 'human_ranking' must be [0, 1] or [1, 0], got {ranking}")
        image = ctx.media.image(image_bytes(d, "image"), "image")
        subset = subset_of(item_id)
        return Record(id=item_id, source="vl-rewardbench", task=Task.IMAGE_UNDERSTANDING, form=Form.PAIR,
                      prompt=d["query"], media=[image],
                      candidates=[{"text": responses[0]}, {"text": responses[1]}],
                      label={"winner": "A" if ranking == [0, 1] else "B"},
                      meta={"category": SUBSET_GROUP[subset], "subset": subset})
    except RowError as e:
        e.reason = f"(id {item_id!r}) {e.reason}"
        raise
