"""VideoDPO (VideoDPO-10k, "vidpro-vc2-dpo-dataset") in the layout its loader reads.

The input is a data folder holding ``metadata.json`` (clip records: ``basic.clip_path`` relative to the
folder, ``misc.frame_caption``) and ``pair.json`` (pairs: ``video1`` = index of the winner in the metadata
list, ``video2`` = the loser, ``frame_caption``, optional ``score``), with the clips; or a folder of such
folders (every folder holding both files is read, in name order).

Labels: ``video1`` is preferred (no ties). The winner is placed as A or B by a hash of the record id. The
caption is the pair's ``frame_caption`` (its first element when a list), else the winner clip's first
``misc.frame_caption``. The OmniScore-based ``score`` goes to ``meta.pair_score``. ``metadata.json`` is
indexed (clip paths and captions only) before the pairs stream. Ids: ``videodpo/<folder>-<item>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from unireward.data.sources.common import (
    Adapter,
    MediaStore,
    Row,
    RowError,
    SourceError,
    find_media,
    iter_json_list,
    json_list_rows,
    need,
    pair_order,
)
from unireward.records import Record
from unireward.tasks import Form, Task


def _first_text(value) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return value.strip() if isinstance(value, str) and value.strip() else None


def _clip(item) -> tuple[str | None, str | None]:
    """(clip path, caption) of a metadata item; None where missing (reported when a pair uses it)."""
    if not isinstance(item, dict):
        return None, None
    basic, misc = item.get("basic") or {}, item.get("misc") or {}
    path = basic.get("clip_path") if isinstance(basic, dict) else None
    caption = _first_text(misc.get("frame_caption")) if isinstance(misc, dict) else None
    return (path if isinstance(path, str) and path else None), caption


class VideoDPO(Adapter):
    name = "videodpo"

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.clips: list[tuple[str | None, str | None]] = []

    def rows(self, src: Path) -> Iterator[Row]:
        if not src.exists():
            raise SourceError(f"{src}: no such file or folder")
        if src.is_file():
            src = src.parent
        folders = sorted(p.parent for p in src.rglob("pair.json") if (p.parent / "metadata.json").is_file())
        if not folders:
            raise SourceError(f"{src}: no folder holding both metadata.json and pair.json")
        for folder in folders:
            self.folder, self.clips = folder, [_clip(item) for item in iter_json_list(folder / "metadata.json")]
            yield from json_list_rows(src, [folder / "pair.json"])

    def _video(self, key: str, d: dict, media: MediaStore) -> tuple[dict, str | None, str]:
        index = need(d, key)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self.clips):
            raise RowError(f"{key}={index!r} is not an index into metadata.json ({len(self.clips)} clips)")
        path, caption = self.clips[index]
        if path is None:
            raise RowError(f"metadata.json item {index} ({key}) has no basic.clip_path", kind="missing field")
        return media.video(find_media(path, [self.folder], "video"), key), caption, path

    def convert(self, row: Row, media: MediaStore) -> list[Record]:
        d = row.data
        win, win_caption, win_path = self._video("video1", d, media)
        lose, _, lose_path = self._video("video2", d, media)
        prompt = _first_text(d.get("frame_caption")) or win_caption
        if not prompt:
            raise RowError("no caption: missing 'frame_caption' in the pair and in the winner's metadata",
                           kind="missing field")
        rid = f"videodpo/{self.folder.name}-{row.pos}"
        a, b, winner = pair_order(rid, win, lose)
        meta = {"chosen": winner, "clips": [win_path, lose_path] if winner == "A" else [lose_path, win_path],
                "pair_score": d.get("score")}
        return [Record(id=rid, source=self.name, task=Task.VIDEO_GENERATION, form=Form.PAIR, prompt=prompt,
                       candidates=[{"media": [a]}, {"media": [b]}], label={"winner": winner}, meta=meta)]
