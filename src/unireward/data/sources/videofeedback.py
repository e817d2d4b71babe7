"""VideoFeedback (VideoScore): ``TIGER-Lab/VideoFeedback``, annotations plus the unpacked frame zips.

Reads the annotations from the input folder: its parquet files when there are any (the HF configs), else
its JSON lists (``data_annotated.json``, ``data_real.json``); or the one file given. Field names contain
spaces: ``id``, ``images`` (frame file names in order), ``text prompt``, and the five dimensions
``visual quality``, ``temporal consistency``, ``dynamic degree``, ``text-to-video alignment``,
``factual consistency``, each 1-4. Frames are read from ``<root>/<id>/<frame>``, where root is the input
folder or any folder under it named ``frames*`` (``frames_annotated/``, ``frames_real/``).

Labels (pointwise): ``label.dims`` holds the five 1-4 scores. The overall score on 1-10, which the
released checkpoints print after "Final Score:", is not documented upstream; here it is the mean of the
five mapped linearly from [1, 4] onto [1, 10] (``1 + 3 * (mean - 1)``), rounded to 2 decimals. A dimension
missing or outside 1-4 skips the row. Ids: ``videofeedback/<id>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from unireward.data.sources.common import (
    Adapter,
    MediaStore,
    Row,
    RowError,
    find_files,
    find_media,
    json_list_rows,
    need,
    need_text,
    parquet_rows,
)
from unireward.records import Record
from unireward.tasks import Form, Task
from unireward.templates.video_generation import FEEDBACK_DIMS


def overall_score(dims: dict[str, int]) -> float:
    """The 1-10 overall score from the five 1-4 dimensions (see the module docstring)."""
    mean = sum(dims.values()) / len(dims)
    return round(1 + 3 * (mean - 1), 2)


class VideoFeedback(Adapter):
    name = "videofeedback"

    def __init__(self) -> None:
        self.roots: list[Path] = []

    def rows(self, src: Path) -> Iterator[Row]:
        files = find_files(src, ["**/*.parquet", "*.json"], "parquet or JSON annotation")
        folder = src.parent if src.is_file() else src
        self.roots = [folder] + sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith("frames"))
        if files[0].suffix == ".parquet":
            return parquet_rows(src, ["id", "images", "text prompt", *FEEDBACK_DIMS], files=files)
        return json_list_rows(src, files)

    def _frames(self, vid: str, names) -> list[Path]:
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise RowError(f"field 'images' must be a non-empty list of frame names, got {names!r:.80}")
        root = find_media(f"{vid}/{names[0]}", self.roots, "first frame").parents[1]
        return [root / vid / n for n in names]

    def convert(self, row: Row, media: MediaStore) -> list[Record]:
        d = row.data
        vid, prompt = str(need(d, "id")), need_text(d, "text prompt")
        dims = {}
        for k in FEEDBACK_DIMS:
            v = need(d, k)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v not in (1, 2, 3, 4):
                raise RowError(f"field '{k}' = {v!r} is not a score in 1-4")
            dims[k] = int(v)
        frames = media.frames(self._frames(vid, need(d, "images")), vid)
        label = {"score": overall_score(dims), "scale": [1, 10], "dims": dims}
        return [Record(id=f"videofeedback/{vid}", source=self.name, task=Task.VIDEO_GENERATION, form=Form.POINT,
                       prompt=prompt, candidates=[{"media": [frames]}], label=label,
                       meta={"video_link": d.get("video link")})]
