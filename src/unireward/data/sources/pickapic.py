"""Pick-a-Pic v2: ``yuvalkirstain/pickapic_v2``.

Reads its parquet files: ``caption``, ``jpg_0``/``jpg_1`` (raw JPEG bytes), ``label_0``/``label_1``, and
``has_label``/``are_different`` when present.

Labels: ``label_0 = 1, label_1 = 0`` means image 0 (A) wins, the reverse B, ``0.5 / 0.5`` is a tie. Any
other pair of values is reported as an unknown label value. Rows with ``has_label`` false or
``are_different`` false are skipped and counted (as Pick-a-Pic users usually filter them). The pair keeps
the source order. Ids are ``pickapic/<file stem>-<row>`` (``ranking_id`` is not unique across splits; it
is kept in ``meta``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from unireward.records import Record
from unireward.data.sources.common import (
    Adapter,
    MediaStore,
    Row,
    RowError,
    image_bytes,
    need,
    need_text,
    parquet_rows,
)
from unireward.tasks import Form, Task


LABELS = {(1.0, 0.0): "A", (0.0, 1.0): "B", (0.5, 0.5): "tie"}


class PickAPic(Adapter):
    name = "pickapic"

    def rows(self, src: Path) -> Iterator[Row]:
        return parquet_rows(src, ["caption", "jpg_0", "jpg_1", "label_0", "label_1"],
                            ["has_label", "are_different", "model_0", "model_1", "ranking_id"])

    def convert(self, row: Row, media: MediaStore) -> list[Record]:
        d = row.data
        if d.get("has_label") is False:
            raise RowError("has_label is false", kind="unlabelled")
        if d.get("are_different") is False:
            raise RowError("are_different is false (the two images are the same)", kind="identical images")
        labels = (need(d, "label_0"), need(d, "label_1"))
        try:
            winner = LABELS[tuple(float(x) for x in labels)]
        except (KeyError, TypeError, ValueError):
            raise RowError(f"unknown label value label_0={labels[0]!r}, label_1={labels[1]!r}") from None
        prompt = need_text(d, "caption")
        a = media.image(image_bytes(d, "jpg_0"), "jpg_0")
        b = media.image(image_bytes(d, "jpg_1"), "jpg_1")
        meta = {"models": [d.get("model_0"), d.get("model_1")], "ranking_id": d.get("ranking_id")}
        return [Record(id=f"pickapic/{row.file.stem}-{row.pos}", source=self.name, task=Task.IMAGE_GENERATION,
                       form=Form.PAIR, prompt=prompt, candidates=[{"media": [a]}, {"media": [b]}],
                       label={"winner": winner}, meta=meta)]
