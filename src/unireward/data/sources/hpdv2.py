"""HPD v2 (HPSv2): ``ymhao/HPDv2`` unpacked as in the HPSv2 README, as a training source and as a benchmark.

The input is the HPD folder (``train.json`` and/or ``test.json``, JSON lists read item by item, with the images
in ``train/`` and ``test/`` beside them) or one of the JSON files. Images are looked up in the folder named
like the JSON file (``test.json`` -> ``test/``), then beside it; for the benchmark, under ``--media-root``
instead when given.

- ``train.json`` items are pairs: ``file_path`` (two image paths) and ``human_preference`` (``[1, 0]``: the
  first wins; ``[0, 1]``: the second). Any other value is reported. The pair keeps the source order.
- ``test.json`` items rank N images of one prompt (``rank``, lower is better); each of the N(N-1)/2 pairs becomes
  a record, equal ranks giving a tie. ``meta``: ``group`` (the item's index), ``members`` (the two images'
  positions in the item), ``ranks`` (their gold ranks), ``paths``; the benchmark metrics rebuild each prompt's
  predicted ranking from these and report HPSv2's inversion score.
- An item with a missing image is reported once, naming every missing file.
- Training source (`HPDv2`): both files; media copied into the output; ids ``hpdv2/train-<item>``,
  ``hpdv2/test-<item>-<i>-<j>``.
- Benchmark (`load_benchmark`, split ``test``): ``test.json``; images referred to by absolute path, never
  copied; ids ``<item>-<i>-<j>``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING

from unireward.data.sources.common import (
    Adapter,
    MediaStore,
    MissingMediaError,
    Row,
    RowError,
    SourceError,
    find_files,
    json_list_rows,
    need,
    need_text,
)
from unireward.records import Record
from unireward.tasks import Form, Task


if TYPE_CHECKING:
    from unireward.bench.sources import LoadContext

SPLITS = ("train.json", "test.json")
HINT = "unpack the split's tar.gz next to its JSON file, or pass --media-root"


def _paths(d: dict, key: str, n: int | None = None) -> list[str]:
    value = need(d, key)
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value) or len(value) < 2 \
            or (n and len(value) != n):
        raise RowError(f"field '{key}' must be a list of {n or 'at least 2'} paths, got {value!r:.80}")
    return value


def _images(paths: list[str], roots: list[Path], image: Callable[[Path, str], dict]) -> list[dict]:
    """The images of an item; every missing file is named in one `MissingMediaError`."""
    found = {p: next((r / p for r in roots if (r / p).is_file()), None) for p in paths}
    missing = [p for p, f in found.items() if f is None]
    if missing:
        raise MissingMediaError(f"image(s) {', '.join(missing)} not found under {', '.join(map(str, roots))}; "
                                f"{HINT}", [roots[0] / p for p in missing])
    return [image(found[p], p) for p in paths]


def records(row: Row, image: Callable[[Path, str], dict], prefix: str, media_root: Path | None = None) -> list[Record]:
    """The records of one item of train.json (a pair) or test.json (all pairs of a ranking); ids ``prefix...``."""
    d, folder = row.data, row.file.parent
    roots = [media_root] if media_root else [folder / row.file.stem, folder]
    prompt = need_text(d, "prompt")
    if "image_path" in d:
        paths, rank = _paths(d, "image_path"), need(d, "rank")
        if not isinstance(rank, list) or len(rank) != len(paths) \
                or not all(isinstance(r, (int, float)) and not isinstance(r, bool) for r in rank):
            raise RowError(f"field 'rank' must hold one number per image ({len(paths)}), got {rank!r:.80}")
        pairs = [(i, j, "A" if rank[i] < rank[j] else "B" if rank[j] < rank[i] else "tie")
                 for i, j in combinations(range(len(paths)), 2)]
        ids = [f"{prefix}-{i}-{j}" for i, j, _ in pairs]
    else:
        paths, rank, pref = _paths(d, "file_path", 2), None, need(d, "human_preference")
        winner = {(1, 0): "A", (0, 1): "B"}.get(tuple(pref) if isinstance(pref, list) else None)
        if winner is None:
            raise RowError(f"human_preference must be [1, 0] or [0, 1], got {pref!r}")
        pairs, ids = [(0, 1, winner)], [prefix]
    images = _images(paths, roots, image)
    return [Record(id=rid, source="hpdv2", task=Task.IMAGE_GENERATION, form=Form.PAIR, prompt=prompt,
                   candidates=[{"media": [images[i]]}, {"media": [images[j]]}], label={"winner": winner},
                   meta={"split": row.file.stem, "group": row.pos, "members": [i, j], "paths": [paths[i], paths[j]],
                         **({"ranks": [float(rank[i]), float(rank[j])]} if rank is not None else {})})
            for rid, (i, j, winner) in zip(ids, pairs)]


class HPDv2(Adapter):
    name = "hpdv2"

    def rows(self, src: Path) -> Iterator[Row]:
        files = [src] if src.is_file() else [src / s for s in SPLITS if (src / s).is_file()]
        if not files:
            raise SourceError(f"{src}: neither train.json nor test.json found" if src.is_dir()
                              else f"{src}: no such file or folder")
        return json_list_rows(src, files)

    def convert(self, row: Row, media: MediaStore) -> list[Record]:
        return records(row, media.image, f"hpdv2/{row.file.stem}-{row.pos}")


def load_benchmark(data: Path, ctx: LoadContext) -> Iterator[Record]:
    path = find_files(data, ["test.json", "*/test.json"], "test.json")[0]
    return ctx.each(json_list_rows(data, [path]),
                    lambda row: records(row, lambda p, _: {"image": str(p.resolve())}, str(row.pos), ctx.media_root))
