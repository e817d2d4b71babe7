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
from typing import TYPE_CHECKING

from unireward.data.sources.common import Row, RowError, SourceError, find_files, image_bytes, need_text, parquet_rows
from unireward.records import Record
from unireward.tasks import Form, Task


if TYPE_CHECKING:
    from unireward.bench.sources import LoadContext

COLUMNS = ("caption", "image0", "image1", "label")


def perspective_of(path: Path) -> str:
    return path.name.split("-", 1)[0].split(".", 1)[0]


def load(data: Path, ctx: LoadContext) -> Iterator[Record]:
    wanted = [s.strip() for s in ctx.split.split(",")] if ctx.split else None
    for path in find_files(data, ["data/*.parquet", "**/*.parquet"], "parquet"):
        if wanted and perspective_of(path) not in wanted:
            continue
        try:
            rows = parquet_rows(data, COLUMNS, ("category", "subcategory"), files=[path])
            yield from ctx.each(rows, lambda row, path=path: [_record(row, perspective_of(path), ctx)])
        except SourceError as e:
            ctx.on_error(e)


def _record(row: Row, perspective: str, ctx: LoadContext) -> Record:
    d = row.data
    caption = need_text(d, "caption")
    if d["label"] not in (0, 1):
        raise RowError(f"field 'label' must be 0 or 1, got {d['label']!r}")
    images = [ctx.media.image(image_bytes(d, c), c) for c in ("image0", "image1")]
    meta = {"category": d.get("category") or perspective}
    if d.get("subcategory"):
        meta["subset"] = d["subcategory"]
    return Record(id=f"{row.file.name.split('.')[0]}-{row.pos}", source="mj-bench", task=Task.IMAGE_GENERATION,
                  form=Form.PAIR, prompt=caption, candidates=[{"media": [m]} for m in images],
                  label={"winner": "A" if d["label"] == 0 else "B"}, meta=meta)
