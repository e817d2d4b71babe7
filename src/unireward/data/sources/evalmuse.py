"""EvalMuse-40K: ``DY-Evalab/EvalMuse`` (``train_list.json`` + the images unpacked from ``images.zip``).

Reads ``train_list.json`` (a JSON list, streamed) from the input folder, or the JSON file given; images are
looked up as ``<folder>/<img_path>`` or ``<folder>/images/<img_path>`` (``img_path`` is
``<model>/<prompt_id>.png``).

- **Pointwise**, one record per item: the score is the mean of the annotators' ``total_score`` (1-5),
  rounded to 2 decimals (so targets read "Final Score: 3.67", as the released checkpoints answer); each
  element of ``element_score`` (key ``"puffin (animal)"``) is 1 when a strict majority of annotators marked
  it generated (with the usual three annotators: at least two agree), else 0.
- **Pairwise**, one record per prompt, built once all items are read: the image with the highest mean
  score against the one with the lowest (the first met wins ties for highest and lowest). A prompt whose
  images all have the same mean gives no pair. The better image is placed as A or B by a hash of the
  prompt id. Ids: ``evalmuse/<img_path>`` (pointwise), ``evalmuse/pair-<prompt_id>`` (pairwise).

``promt_meaningless`` (misspelled in the data) and the other annotation flags are kept in ``meta``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
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
    pair_order,
)
from unireward.records import Record
from unireward.tasks import Form, Task


FLAGS = ("promt_meaningless", "split_confidence", "attribute_confidence", "fidelity_label", "type")


@dataclass
class _Scored:
    mean: float
    media: dict
    img_path: str


def _votes(value, key: str, lo: int, hi: int) -> list[int]:
    ok = isinstance(value, list) and value and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi for v in value)
    if not ok:
        raise RowError(f"field '{key}' must be a non-empty list of numbers in [{lo}, {hi}], got {value!r:.80}")
    return value


def _elements(d: dict) -> dict[str, int]:
    raw = d.get("element_score") or {}
    if not isinstance(raw, dict):
        raise RowError(f"field 'element_score' must be an object, got {type(raw).__name__}")
    return {k: int(2 * sum(_votes(v, f"element_score[{k!r}]", 0, 1)) > len(v)) for k, v in raw.items()}


class EvalMuse(Adapter):
    name = "evalmuse"

    def __init__(self) -> None:
        self.prompts: dict[str, tuple[str, _Scored, _Scored]] = {}  # prompt id -> (prompt, best, worst)

    def rows(self, src: Path) -> Iterator[Row]:
        files = [src] if src.is_file() else [src / "train_list.json"]
        return json_list_rows(src, files)

    def convert(self, row: Row, media: MediaStore) -> list[Record]:
        d = row.data
        prompt, pid, rel = need_text(d, "prompt"), str(need(d, "prompt_id")), need_text(d, "img_path")
        scores = _votes(need(d, "total_score"), "total_score", 1, 5)
        mean = round(sum(scores) / len(scores), 2)
        elements = _elements(d)
        image = media.image(find_media(rel, [row.file.parent, row.file.parent / "images"], "image"), rel)
        self._remember(pid, prompt, _Scored(mean, image, rel))
        meta = {"prompt_id": pid, "img_path": rel, "total_score": scores,
                **{k: d[k] for k in FLAGS if d.get(k) is not None}}
        label = {"score": mean, "scale": [1, 5], "elements": elements}
        return [Record(id=f"evalmuse/{rel}", source=self.name, task=Task.IMAGE_GENERATION, form=Form.POINT,
                       prompt=prompt, candidates=[{"media": [image]}], label=label, meta=meta)]

    def _remember(self, pid: str, prompt: str, s: _Scored) -> None:
        if pid not in self.prompts:
            self.prompts[pid] = (prompt, s, s)
            return
        prompt, best, worst = self.prompts[pid]
        self.prompts[pid] = (prompt, s if s.mean > best.mean else best, s if s.mean < worst.mean else worst)

    def finish(self, media: MediaStore) -> Iterator[tuple[str, list[Record]]]:
        for pid, (prompt, best, worst) in self.prompts.items():
            if best.mean <= worst.mean:
                continue  # one image, or all equal: no preference to learn
            rid = f"evalmuse/pair-{pid}"
            a, b, winner = pair_order(rid, best, worst)
            meta = {"prompt_id": pid, "scores": [a.mean, b.mean], "img_paths": [a.img_path, b.img_path]}
            yield f"prompt {pid} (pair)", [Record(
                id=rid, source=self.name, task=Task.IMAGE_GENERATION, form=Form.PAIR, prompt=prompt,
                candidates=[{"media": [a.media]}, {"media": [b.media]}], label={"winner": winner}, meta=meta)]
