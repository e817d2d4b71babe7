"""HPD v2 (HPSv2): ``ymhao/HPDv2``, unpacked as in the HPSv2 README.

Reads ``train.json`` and/or ``test.json`` (JSON lists, streamed) from the input folder, with the images in
``train/`` and ``test/`` beside them (or one of the JSON files, with its images in the folder of the same
stem).

- ``train.json`` items are pairs: ``file_path`` (two image paths) and ``human_preference`` (``[1, 0]``: the
  first wins; ``[0, 1]``: the second). Any other value is reported. The pair keeps the source order.
- ``test.json`` items rank N images of one prompt (``rank``, lower is better); every one of the N(N-1)/2
  pairs becomes a record, equal ranks giving a tie. Ids: ``hpdv2/train-<item>`` and
  ``hpdv2/test-<item>-<i>-<j>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from pathlib import Path

from unireward.records import Record
from unireward.data.sources.common import (
    Adapter,
    MediaStore,
    Row,
    RowError,
    SourceError,
    json_list_rows,
    need,
    need_text,
)
from unireward.tasks import Form, Task


SPLITS = ("train.json", "test.json")


def _paths(d: dict, key: str, n: int | None = None) -> list[str]:
    value = need(d, key)
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value) or (n and len(value) != n):
        raise RowError(f"field '{key}' must be a list of {n or 'N'} paths, got {value!r:.80}")
    return value


class HPDv2(Adapter):
    name = "hpdv2"

    def rows(self, src: Path) -> Iterator[Row]:
        files = [src] if src.is_file() else [src / s for s in SPLITS if (src / s).is_file()]
        if not files:
            raise SourceError(f"{src}: neither train.json nor test.json found")
        return json_list_rows(src, files)

    def convert(self, row: Row, media: MediaStore) -> list[Record]:
        folder = row.file.parent / row.file.stem  # train.json -> train/, test.json -> test/
        if isinstance(row.data, dict) and "image_path" in row.data:
            return self._ranking(row, folder, media)
        return self._pair(row, folder, media)

    def _image(self, folder: Path, rel: str, media: MediaStore) -> dict:
        return media.image(folder / rel, rel)

    def _pair(self, row: Row, folder: Path, media: MediaStore) -> list[Record]:
        d = row.data
        prompt, paths = need_text(d, "prompt"), _paths(d, "file_path", 2)
        pref = need(d, "human_preference")
        winner = {(1, 0): "A", (0, 1): "B"}.get(tuple(pref) if isinstance(pref, list) else None)
        if winner is None:
            raise RowError(f"human_preference must be [1, 0] or [0, 1], got {pref!r}")
        a, b = (self._image(folder, p, media) for p in paths)
        return [Record(id=f"hpdv2/{row.file.stem}-{row.pos}", source=self.name, task=Task.IMAGE_GENERATION,
                       form=Form.PAIR, prompt=prompt, candidates=[{"media": [a]}, {"media": [b]}],
                       label={"winner": winner}, meta={"split": row.file.stem, "paths": paths})]

    def _ranking(self, row: Row, folder: Path, media: MediaStore) -> list[Record]:
        d = row.data
        prompt, paths, rank = need_text(d, "prompt"), _paths(d, "image_path"), need(d, "rank")
        if not isinstance(rank, list) or len(rank) != len(paths) or len(paths) < 2 \
                or not all(isinstance(r, (int, float)) and not isinstance(r, bool) for r in rank):
            raise RowError(f"field 'rank' must hold one number per image ({len(paths)}), got {rank!r:.80}")
        images = [self._image(folder, p, media) for p in paths]
        out = []
        for i, j in combinations(range(len(paths)), 2):
            winner = "A" if rank[i] < rank[j] else "B" if rank[j] < rank[i] else "tie"
            out.append(Record(id=f"hpdv2/{row.file.stem}-{row.pos}-{i}-{j}", source=self.name,
                              task=Task.IMAGE_GENERATION, form=Form.PAIR, prompt=prompt,
                              candidates=[{"media": [images[i]]}, {"media": [images[j]]}],
                              label={"winner": winner},
                              meta={"split": row.file.stem, "paths": [paths[i], paths[j]],
                                    "rank": [rank[i], rank[j]]}))
        return out
