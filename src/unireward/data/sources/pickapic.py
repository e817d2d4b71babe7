"""Pick-a-Pic v2: ``yuvalkirstain/pickapic_v2``, as a training source and as a benchmark (one parser for both).

Reads its parquet files: ``caption``, ``jpg_0``/``jpg_1`` (raw JPEG bytes), ``label_0``/``label_1``, and
``has_label``/``are_different`` when present.

- Labels: ``label_0 = 1, label_1 = 0`` means image 0 (A) wins, the reverse B, ``0.5 / 0.5`` is a tie. Any other
  pair of values is reported as an unknown label value. The pair keeps the source order.
- Rows with ``has_label`` false or ``are_different`` false are left out, as Pick-a-Pic users usually do, and
  counted by kind (``unlabelled``, ``identical images``): in the conversion's skipped rows, in the benchmark's
  ``filtered`` report.
- ``meta``: ``models``, ``image_uids``, ``ranking_id`` (not unique across splits, so not the id).
- Training source (`PickAPic`, ``unireward data convert pickapic``): every parquet file under the input; ids
  ``pickapic/<file stem>-<row>``.
- Benchmark (`load_benchmark`, ``unireward bench run pickapic``): ``data/<split>-*.parquet`` (split ``test`` by
  default; ``validation``, ``test_unique``, ``validation_unique``) or one parquet file; ids ``<split>-<row>``,
  the row counted over the split's shards in name order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from unireward.data.sources.common import (
    Adapter,
    Filtered,
    MediaStore,
    Row,
    RowError,
    find_files,
    image_bytes,
    need,
    need_text,
    parquet_rows,
)
from unireward.records import Record
from unireward.tasks import Form, Task


if TYPE_CHECKING:
    from unireward.bench.sources import LoadContext

COLUMNS = ("caption", "jpg_0", "jpg_1", "label_0", "label_1")
OPTIONAL = ("has_label", "are_different", "model_0", "model_1", "ranking_id", "image_0_uid", "image_1_uid")
LABELS = {(1.0, 0.0): "A", (0.0, 1.0): "B", (0.5, 0.5): "tie"}
SPLITS = ("test", "validation", "test_unique", "validation_unique")


def record(rid: str, d: dict, media: MediaStore) -> Record:
    """The pair record of one Pick-a-Pic row (images written to `media`); `Filtered` or `RowError` otherwise."""
    if d.get("has_label") is False:
        raise Filtered("has_label is false", kind="unlabelled")
    if d.get("are_different") is False:
        raise Filtered("are_different is false (the two images are the same)", kind="identical images")
    labels = (need(d, "label_0"), need(d, "label_1"))
    try:
        winner = LABELS[tuple(float(x) for x in labels)]
    except (KeyError, TypeError, ValueError):
        raise RowError(f"unknown label value label_0={labels[0]!r}, label_1={labels[1]!r}") from None
    prompt = need_text(d, "caption")
    a, b = (media.image(image_bytes(d, k), k) for k in ("jpg_0", "jpg_1"))
    meta = {"models": [d.get("model_0"), d.get("model_1")], "image_uids": [d.get("image_0_uid"), d.get("image_1_uid")],
            "ranking_id": d.get("ranking_id")}
    return Record(id=rid, source="pickapic", task=Task.IMAGE_GENERATION, form=Form.PAIR, prompt=prompt,
                  candidates=[{"media": [a]}, {"media": [b]}], label={"winner": winner}, meta=meta)


class PickAPic(Adapter):
    name = "pickapic"

    def rows(self, src: Path) -> Iterator[Row]:
        return parquet_rows(src, COLUMNS, OPTIONAL)

    def convert(self, row: Row, media: MediaStore) -> list[Record]:
        return [record(f"pickapic/{row.file.stem}-{row.pos}", row.data, media)]


def load_benchmark(data: Path, ctx: LoadContext) -> Iterator[Record]:
    split = ctx.split or "test"
    files = find_files(data, [f"data/{split}-*.parquet", f"{split}-*.parquet"], f"{split} parquet")
    return ctx.each(parquet_rows(data, COLUMNS, OPTIONAL, files=files),
                    lambda row: [record(f"{split}-{row.index}", row.data, ctx.media)])
