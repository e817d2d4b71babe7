"""MJ-Bench (`MJ-Bench/MJ-Bench`, gated, auto-approved): text-to-image judge pairs on four perspectives.

Reads the parquet files of the dataset folder (one split per perspective, e.g.
``data/alignment-00000-of-00001.parquet``), or one parquet file. Both published layouts are read:
- the 2024 release: `caption`, `image0`, `image1`, `label` (0: image0 preferred, 1: image1), `info`;
  the perspective is the split name taken from the file name (the text before the first ``-``);
- the current card: the same plus `category`, `subcategory`, `model` (`label` always 0, image0 positive);
  the category and subcategory come from those columns.

Design choices a user will notice:
- ``--split`` picks perspectives (comma-separated, e.g. ``alignment,safety``); default: every file.
- A file without the pair columns (the historical `bias` subset has other fields) is reported as one bad
  item and skipped; the other perspectives still load.
- ``record.meta``: ``category`` (the perspective) and ``subset`` (subcategory, when the data has one).
  Ids are ``<file stem>-<row>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from unireward.bench.sources._common import BenchDataError, LoadContext, check_columns, find_files, parquet_rows
from unireward.records import Record
from unireward.tasks import Form, Task


BENCH = "mj-bench"
SPLITS = ("alignment", "safety", "quality", "bias")
COLUMNS = ("caption", "image0", "image1", "label")


def perspective_of(path: Path) -> str:
    return path.name.split("-", 1)[0].split(".", 1)[0]


def load(data: Path, ctx: LoadContext) -> Iterator[Record]:
    wanted = [s.strip() for s in ctx.split.split(",")] if ctx.split else None
    for path in find_files(data, ["data/*.parquet", "**/*.parquet"], BENCH, "parquet file"):
        if wanted and perspective_of(path) not in wanted:
            continue
        try:
            check_columns(path, COLUMNS, BENCH)
        except BenchDataError as e:
            ctx.on_error(e)
            continue
        for i, row in enumerate(parquet_rows(path)):
            item = f"{path.name.split('.')[0]}-{i}"
            try:
                yield _record(row, item, perspective_of(path), ctx)
            except BenchDataError as e:
                ctx.on_error(e)


def _record(row: dict[str, Any], item: str, perspective: str, ctx: LoadContext) -> Record:
    caption = row["caption"]
    if not isinstance(caption, str) or not caption.strip():
        raise BenchDataError(f"{BENCH}: {item}: field 'caption' must be a non-empty string", item)
    if row["label"] not in (0, 1):
        raise BenchDataError(f"{BENCH}: {item}: field 'label' must be 0 or 1, got {row['label']!r}", item)
    images = [ctx.save_image(row[c], f"{BENCH}: {item}: field '{c}'") for c in ("image0", "image1")]
    meta = {"category": row.get("category") or perspective}
    if row.get("subcategory"):
        meta["subset"] = row["subcategory"]
    return Record(id=item, source=BENCH, task=Task.IMAGE_GENERATION, form=Form.PAIR, prompt=caption,
                  candidates=[{"media": [{"image": p}]} for p in images],
                  label={"winner": "A" if row["label"] == 0 else "B"}, meta=meta)
