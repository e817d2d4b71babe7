"""LiFT-HRA: ``Fudan-FUXI/LiFT-HRA-10K`` / ``-20K`` (``LiFT-HRA-data.json`` + the videos from the zips).

Reads the annotation JSON list (the input file, or every ``*.json`` in the input folder) in LiFT's LLaVA
shape: ``video`` (path relative to the JSON's folder, or to its ``videos/`` subfolder) and
``conversations`` = [human: ``<video>`` + caption + one dimension question, gpt: ``"Good|Normal|Bad. reason"``].

Each item rates one dimension of one video; the three questions name the dimension ("Please identify the
fidelity issues in this video ..."): semantic consistency, fidelity, motion. The annotations of a video are
merged into **one pointwise record per video**, emitted as soon as its three dimensions are seen (the
adapter holds the annotations of incomplete videos and the paths of finished ones; videos missing a
dimension are emitted at the end with the dimensions they have):

- ``label.dims``: each dimension's rating as Good = 3, Normal = 2, Bad = 1; ``label.score``: their mean on
  ``[1, 3]``, rounded to 2 decimals; the rating words are in ``meta.ratings``.
- ``rationale``: one line per dimension, ``"fidelity: Bad. <reason>"``, the annotators' reasons kept whole.
- A rating other than Good/Normal/Bad, or a question naming no dimension, skips the item; a second rating
  of the same dimension of a video is reported as a duplicate. Ids: ``lift_hra/<video path>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from unireward.data.sources.common import (
    Adapter,
    MediaStore,
    Row,
    RowError,
    find_media,
    json_list_rows,
    need,
    need_text,
)
from unireward.records import Record
from unireward.tasks import Form, Task


DIMENSIONS = ("semantic consistency", "fidelity", "motion")
RATINGS = {"Good": 3, "Normal": 2, "Bad": 1}
_QUESTION = re.compile(r"\s*Please identify the (.+?) issues in this video", re.I | re.S)
_ANSWER = re.compile(r"^\s*(\w+)\b[.:,;!]?\s*(.*)$", re.S)


@dataclass
class _Video:
    caption: str
    media: dict
    first_row: int
    ratings: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)


def _exchange(d: dict) -> tuple[str, str]:
    conv = need(d, "conversations")
    if not isinstance(conv, list):
        raise RowError(f"field 'conversations' must be a list, got {type(conv).__name__}")
    human = next((t.get("value") for t in conv if isinstance(t, dict) and t.get("from") == "human"), None)
    gpt = next((t.get("value") for t in conv if isinstance(t, dict) and t.get("from") == "gpt"), None)
    if not isinstance(human, str) or not isinstance(gpt, str):
        raise RowError("'conversations' needs a human turn and a gpt turn", kind="missing field")
    return human.replace("<video>", "").strip(), gpt.strip()


class LiFTHRA(Adapter):
    name = "lift_hra"

    def __init__(self) -> None:
        self.pending: dict[str, _Video] = {}
        self.done: set[str] = set()  # videos already emitted, to report late duplicates

    def rows(self, src: Path) -> Iterator[Row]:
        return json_list_rows(src)

    def convert(self, row: Row, media: MediaStore) -> list[Record]:
        d = row.data
        rel = need_text(d, "video")
        human, answer = _exchange(d)
        m = _QUESTION.search(human)
        dim = m and m[1].strip().lower()
        if dim not in DIMENSIONS:
            raise RowError(f"the question names no known dimension {DIMENSIONS}: {human[-80:]!r}",
                           kind="unparseable instruction")
        caption = human[:m.start()].strip()
        rating = _ANSWER.match(answer)
        if not rating or rating[1].capitalize() not in RATINGS:
            raise RowError(f"unknown rating {answer[:40]!r} (expected Good, Normal or Bad)")
        if rel in self.done:
            raise RowError(f"duplicate {dim} rating for video {rel} (all dimensions already rated)", kind="duplicate")
        video = self.pending.get(rel)
        if video is None:
            if not caption:
                raise RowError("no caption before the question", kind="missing field")
            path = find_media(rel, [row.file.parent, row.file.parent / "videos"], "video")
            video = self.pending[rel] = _Video(caption, media.video(path, rel), row.index)
        if dim in video.ratings:
            raise RowError(f"duplicate {dim} rating for video {rel}", kind="duplicate")
        video.ratings[dim], video.reasons[dim] = rating[1].capitalize(), rating[2].strip()
        if len(video.ratings) < len(DIMENSIONS):
            return []
        self.done.add(rel)
        return [self._record(rel, self.pending.pop(rel))]

    def _record(self, rel: str, v: _Video) -> Record:
        dims = {k: RATINGS[v.ratings[k]] for k in DIMENSIONS if k in v.ratings}
        rationale = "\n".join(f"{k}: {v.ratings[k]}. {v.reasons[k]}".rstrip() for k in DIMENSIONS if k in v.ratings)
        label = {"score": round(sum(dims.values()) / len(dims), 2), "scale": [1, 3], "dims": dims}
        meta = {"video_path": rel, "ratings": v.ratings, "missing": [k for k in DIMENSIONS if k not in dims]}
        return Record(id=f"lift_hra/{rel}", source=self.name, task=Task.VIDEO_GENERATION, form=Form.POINT,
                      prompt=v.caption, candidates=[{"media": [v.media]}], label=label, rationale=rationale,
                      meta=meta)

    def finish(self, media: MediaStore) -> Iterator[tuple[str, list[Record]]]:
        for rel, video in self.pending.items():
            yield f"video {rel} (incomplete: {len(video.ratings)} of {len(DIMENSIONS)} dimensions)", \
                [self._record(rel, video)]
        self.pending.clear()
