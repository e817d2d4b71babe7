"""ShareGPTVideo DPO 17k (LLaVA-Hound-DPO): ``ShareGPTVideo/train_video_and_instruction``.

Reads ``video_instruction/train/dpo/sft_dpo_17k.jsonl`` (the input file, or every ``*.jsonl`` under the
input folder), line by line: ``id``, ``video``, ``prompt`` (``<video>`` tokens removed), ``chosen``,
``rejected``, ``chosen_score``, ``rejected_score``. Each ``video`` is a frame folder unpacked from
``train_300k/chunk_*.tar.gz``, looked up as ``<root>/<video>`` or ``<root>/train_300k/<video>`` with root =
the JSONL's folder or any of its four parents (the repository layout); a ``video`` naming a file is read as
a video file.

Each line gives three records: one pair (chosen preferred, no ties; placed as A or B by a hash of the id)
and two pointwise records, the chosen and the rejected answer scored with ``chosen_score`` and
``rejected_score`` on 1-5 (as UnifiedReward built its pointwise set). A missing or out-of-range score
skips the line. Ids: ``sharegptvideo/<id>``, ``.../<id>/chosen``, ``.../<id>/rejected``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from unireward.data.sources.common import (
    Adapter,
    MediaStore,
    MissingMediaError,
    Row,
    RowError,
    frame_files,
    jsonl_rows,
    need,
    need_text,
    pair_order,
)
from unireward.records import Record
from unireward.tasks import Form, Task


SCALE = (1.0, 5.0)


def _score(d: dict, key: str) -> float:
    v = need(d, key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not SCALE[0] <= v <= SCALE[1]:
        raise RowError(f"field '{key}' = {v!r} is not a score in {SCALE[0]:g}-{SCALE[1]:g}")
    return float(v)


class ShareGPTVideo(Adapter):
    name = "sharegptvideo"

    def rows(self, src: Path) -> Iterator[Row]:
        return jsonl_rows(src)

    def _media(self, row: Row, video: str, media: MediaStore) -> dict:
        for base in [row.file.parent, *list(row.file.parent.parents)[:4]]:
            for path in (base / video, base / "train_300k" / video):
                if path.is_dir():
                    return media.frames(frame_files(path), video)
                if path.is_file():
                    return media.video(path, video)
        raise MissingMediaError(f"video {video!r} not found (as a frame folder or file) near {row.file}",
                                row.file.parent / video)

    def convert(self, row: Row, media: MediaStore) -> list[Record]:
        d = row.data
        sid, video = str(need(d, "id")), need_text(d, "video")
        prompt = need_text(d, "prompt").replace("<video>", "").strip()
        chosen, rejected = need_text(d, "chosen"), need_text(d, "rejected")
        scores = {"chosen": _score(d, "chosen_score"), "rejected": _score(d, "rejected_score")}
        shared = [self._media(row, video, media)]
        rid = f"sharegptvideo/{sid}"
        a, b, winner = pair_order(rid, chosen, rejected)
        common = dict(source=self.name, task=Task.VIDEO_UNDERSTANDING, prompt=prompt, media=shared)
        out = [Record(id=rid, form=Form.PAIR, candidates=[{"text": a}, {"text": b}], label={"winner": winner},
                      meta={"video": video, "chosen": winner, "scores": scores}, **common)]
        for which, text in (("chosen", chosen), ("rejected", rejected)):
            out.append(Record(id=f"{rid}/{which}", form=Form.POINT, candidates=[{"text": text}],
                              label={"score": scores[which], "scale": list(SCALE)},
                              meta={"video": video, "answer": which}, **common))
        return out
