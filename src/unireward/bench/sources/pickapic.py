"""Pick-a-Pic v2 (`yuvalkirstain/pickapic_v2`): text-to-image pairs with one user's choice.

Reads ``data/<split>-*.parquet`` under the dataset folder (split ``test`` by default; also ``validation``,
``test_unique``, ``validation_unique``), or a parquet file given directly. Columns used: `caption`,
`jpg_0`, `jpg_1` (raw jpeg bytes), `label_0`, `label_1`, `has_label`, `are_different`.

Design choices a user will notice:
- Labels: ``label_0, label_1`` = (1, 0) -> A, (0, 1) -> B, (0.5, 0.5) -> tie; anything else is a bad row.
- As usual for this dataset, rows with ``has_label`` false or ``are_different`` false are left out; they are
  counted by reason in the run's ``filtered`` report, never dropped silently.
- Ids are ``<split>-<row>`` (row index over the split's shards in name order); `ranking_id` and the image
  uids are kept in ``record.meta``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from unireward.bench.sources._common import BenchDataError, LoadContext, check_columns, find_files, parquet_rows
from unireward.records import Record
from unireward.tasks import Form, Task


BENCH = "pickapic"
SPLITS = ("test", "validation", "test_unique", "validation_unique")
COLUMNS = ("caption", "jpg_0", "jpg_1", "label_0", "label_1")
LABELS = {(1.0, 0.0): "A", (0.0, 1.0): "B", (0.5, 0.5): "tie"}


def load(data: Path, ctx: LoadContext) -> Iterator[Record]:
    split = ctx.split or "test"
    if split not in SPLITS:
        raise ValueError(f"{BENCH}: unknown split {split!r}; valid: {', '.join(SPLITS)}")
    i = 0
    for path in find_files(data, [f"data/{split}-*.parquet", f"{split}-*.parquet"], BENCH, f"{split} parquet"):
        check_columns(path, COLUMNS, BENCH)
        for row in parquet_rows(path):
            item, i = f"{split}-{i}", i + 1
            if row.get("has_label") is False:
                ctx.skip("has_label is false")
                continue
            if row.get("are_different") is False:
                ctx.skip("are_different is false")
                continue
            try:
                yield _record(row, item, ctx)
            except BenchDataError as e:
                ctx.on_error(e)


def _record(row: dict[str, Any], item: str, ctx: LoadContext) -> Record:
    caption = row["caption"]
    if not isinstance(caption, str) or not caption.strip():
        raise BenchDataError(f"{BENCH}: {item}: field 'caption' must be a non-empty string", item)
    try:
        key = (float(row["label_0"]), float(row["label_1"]))
    except (TypeError, ValueError):
        key = None
    if key not in LABELS:
        raise BenchDataError(f"{BENCH}: {item}: labels (label_0, label_1) must be (1, 0), (0, 1) or (0.5, 0.5), "
                             f"got ({row['label_0']!r}, {row['label_1']!r})", item)
    images = [ctx.save_image(row[c], f"{BENCH}: {item}: field '{c}'") for c in ("jpg_0", "jpg_1")]
    meta = {k: row[k] for k in ("ranking_id", "image_0_uid", "image_1_uid", "model_0", "model_1") if k in row}
    return Record(id=item, source=BENCH, task=Task.IMAGE_GENERATION, form=Form.PAIR, prompt=caption,
                  candidates=[{"media": [{"image": p}]} for p in images], label={"winner": LABELS[key]}, meta=meta)
