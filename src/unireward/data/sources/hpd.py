"""HPD as UnifiedReward uses it: Rapidata's "700k Human Preference Dataset" (FLUX, SD3, MJ, DALL-E 3).

Reads the parquet files of ``Rapidata/700k_Human_Preference_Dataset_FLUX_SD3_MJ_DALLE3`` (a folder of
``train_00xx`` parquet files or one file): ``prompt``, ``image1``/``image2`` (embedded image bytes),
``votes_image1``/``votes_image2``.

Labels: the image with more votes wins; equal vote counts are a tie (``"tie"``, which the v1 templates
phrase "Both images are equally good"). A row with no votes at all carries no preference and is skipped; a
vote count that is not a non-negative integer is reported as an unknown vote value. The pair keeps the
source order (image1 = A): the order is not tied to the label. Ids are ``hpd/<file stem>-<row>``, as the
source has no id column. Vote counts and model names go to ``meta``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
from unireward.records import Record
from unireward.tasks import Form, Task


def _votes(d: dict, key: str) -> int:
    v = need(d, key)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise RowError(f"unknown vote value {key}={v!r} (expected a count >= 0)", kind="invalid value")
    return v


class HPD(Adapter):
    name = "hpd"

    def rows(self, src: Path) -> Iterator[Row]:
        return parquet_rows(src, ["prompt", "image1", "image2", "votes_image1", "votes_image2"],
                            ["model1", "model2", "image1_path", "image2_path"])

    def convert(self, row: Row, media: MediaStore) -> list[Record]:
        d = row.data
        prompt = need_text(d, "prompt")
        v1, v2 = _votes(d, "votes_image1"), _votes(d, "votes_image2")
        if v1 == v2 == 0:
            raise RowError("no votes for either image", kind="no preference")
        a = media.image(image_bytes(d, "image1"), "image1")
        b = media.image(image_bytes(d, "image2"), "image2")
        winner = "A" if v1 > v2 else "B" if v2 > v1 else "tie"
        meta = {"votes": [v1, v2], "models": [d.get("model1"), d.get("model2")],
                "paths": [d.get("image1_path"), d.get("image2_path")]}
        return [Record(id=f"hpd/{row.file.stem}-{row.pos}", source=self.name, task=Task.IMAGE_GENERATION,
                       form=Form.PAIR, prompt=prompt, candidates=[{"media": [a]}, {"media": [b]}],
                       label={"winner": winner}, meta=meta)]
