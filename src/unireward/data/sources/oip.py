"""OIP: ``data-is-better-together/open-image-preferences-v1-binarized``.

Reads its parquet files (``data/train-0000x-of-00005.parquet``, or one file): ``id``, ``prompt``,
``chosen``/``rejected`` (embedded image bytes), model names, ``evolution``, ``category``.

Labels: ``chosen`` is always preferred (the binarized set has no ties). The chosen image is placed as A
or B by a hash of the id, so winners are balanced between positions; ``meta.chosen`` says which. Ids are
``oip/<id>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from unireward.data.sources.common import (
    Adapter,
    MediaStore,
    Row,
    image_bytes,
    need,
    need_text,
    pair_order,
    parquet_rows,
)
from unireward.records import Record
from unireward.tasks import Form, Task


class OIP(Adapter):
    name = "oip"

    def rows(self, src: Path) -> Iterator[Row]:
        return parquet_rows(src, ["id", "prompt", "chosen", "rejected"],
                            ["chosen_model", "rejected_model", "evolution", "category", "sub_category"])

    def convert(self, row: Row, media: MediaStore) -> list[Record]:
        d = row.data
        rid, prompt = f"oip/{need(d, 'id')}", need_text(d, "prompt")
        chosen = media.image(image_bytes(d, "chosen"), "chosen")
        rejected = media.image(image_bytes(d, "rejected"), "rejected")
        a, b, winner = pair_order(rid, chosen, rejected)
        models = (d.get("chosen_model"), d.get("rejected_model"))
        meta = {"chosen": winner, "models": list(models if winner == "A" else models[::-1]),
                **{k: d[k] for k in ("evolution", "category", "sub_category") if d.get(k) is not None}}
        return [Record(id=rid, source=self.name, task=Task.IMAGE_GENERATION, form=Form.PAIR, prompt=prompt,
                       candidates=[{"media": [a]}, {"media": [b]}], label={"winner": winner}, meta=meta)]
