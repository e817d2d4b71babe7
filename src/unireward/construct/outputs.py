"""Output rows: one preference pair per kept prompt, in the format its trainer reads.

- image / video understanding: TRL's conversational preference format (VLM DPO): `prompt`, `chosen`,
  `rejected` (message lists) and `images` or `videos`;
- image generation: Pick-a-Pic style (Diffusion-DPO): `caption`, `jpg_0` (chosen), `jpg_1` (rejected),
  `label_0` = 1;
- video generation (video diffusion DPO): `caption`, `chosen`, `rejected` (video paths).

Every row also carries the judge's evidence: `id`, `judge`, `judge_family`, `strategy`, `chosen_score`,
`rejected_score`, `chosen_index`, `rejected_index`, `n_candidates`, `verdicts` (each fixed pair: its
verdict, the swapped-order verdict if asked, the winning index) and `scores` (per candidate, null when
not scored). Dropped prompts go to ``dropped.jsonl`` with the same evidence and a `reason`.

Design choices a user will notice:
- Media columns hold paths relative to the output folder (the JSONL reads with
  ``datasets.load_dataset("json", ...)``); `load_pairs` resolves them, decodes images with
  ``datasets.Image`` (TRL), or gives raw bytes for ``jpg_0``/``jpg_1`` as diffusers' Diffusion-DPO script
  expects. The shared image or video of an understanding prompt is copied into ``media/shared/`` (named
  by content hash) so the folder is self-contained.
- ``label_0`` is always 1: the chosen image is always ``jpg_0``, as in the upstream DPO data.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from unireward.construct.items import Candidate, PromptItem
from unireward.construct.sift import Decision
from unireward.tasks import Task


PAIRS_FILE, DROPPED_FILE = "pairs.jsonl", "dropped.jsonl"


def relpath(path: str, root: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), root.resolve())).as_posix()


def shared_media(item: PromptItem, root: Path, media_hash: str) -> str:
    """Copy the prompt's image/video into the output folder once; its path relative to the folder."""
    src = Path(item.media)  # type: ignore[arg-type]
    dest = root / "media" / "shared" / f"{media_hash[:24]}{src.suffix.lower()}"
    if not dest.is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    return relpath(str(dest), root)


def evidence(item: PromptItem, cands: list[Candidate], d: Decision, judge: dict[str, Any]) -> dict[str, Any]:
    return {"id": item.id, "judge": judge.get("name"), "judge_family": judge.get("family"), "strategy": d.strategy,
            "chosen_score": d.chosen_score, "rejected_score": d.rejected_score, "chosen_index": d.chosen,
            "rejected_index": d.rejected, "n_candidates": len(cands),
            "verdicts": [{"a": p.a, "b": p.b, "winner": p.winner, "swapped": p.swapped, "decided": p.decided}
                         for p in d.pairs],
            "scores": [d.scores.get(i) for i in range(len(cands))]}


def pair_row(task: Task, item: PromptItem, cands: list[Candidate], d: Decision, judge: dict[str, Any],
             root: Path, shared: str | None) -> dict[str, Any]:
    """The output row of a kept prompt."""
    c, r = cands[d.chosen], cands[d.rejected]  # type: ignore[index]
    if task == Task.IMAGE_GENERATION:
        body = {"caption": item.prompt, "jpg_0": relpath(c.path, root), "jpg_1": relpath(r.path, root),
                "label_0": 1.0}
    elif task == Task.VIDEO_GENERATION:
        body = {"caption": item.prompt, "chosen": relpath(c.path, root), "rejected": relpath(r.path, root)}
    else:
        kind = task.modality
        body = {"prompt": [{"role": "user", "content": [{"type": kind}, {"type": "text", "text": item.prompt}]}],
                "chosen": [{"role": "assistant", "content": [{"type": "text", "text": c.text}]}],
                "rejected": [{"role": "assistant", "content": [{"type": "text", "text": r.text}]}],
                f"{kind}s": [shared]}
    return {**body, **evidence(item, cands, d, judge)}


def drop_row(item: PromptItem, cands: list[Candidate], d: Decision, judge: dict[str, Any]) -> dict[str, Any]:
    return {"prompt": item.prompt, "reason": d.reason, **evidence(item, cands, d, judge),
            "errors": list(d.errors)}


def load_pairs(output_dir: str | Path, decode: bool = True):
    """The pairs of a construct output folder as a `datasets.Dataset`, media paths resolved.

    decode: TRL rows get ``images`` as decoded images (``datasets.Image``); Pick-a-Pic rows get ``jpg_0`` /
    ``jpg_1`` as decoded images, or as raw file bytes with ``decode=False`` (what diffusers'
    ``train_diffusion_dpo.py`` reads). Video paths stay paths.
    """
    import datasets

    root = Path(output_dir).resolve()
    ds = datasets.load_dataset("json", data_files=str(root / PAIRS_FILE), split="train")
    cols = set(ds.column_names)

    def absolute(p: str) -> str:
        return str(root / p)

    if "jpg_0" in cols:
        if decode:
            ds = ds.map(lambda x: {"jpg_0": absolute(x["jpg_0"]), "jpg_1": absolute(x["jpg_1"])})
            ds = ds.cast_column("jpg_0", datasets.Image()).cast_column("jpg_1", datasets.Image())
        else:
            ds = ds.map(lambda x: {"jpg_0": Path(absolute(x["jpg_0"])).read_bytes(),
                                   "jpg_1": Path(absolute(x["jpg_1"])).read_bytes()})
    elif "images" in cols:
        ds = ds.map(lambda x: {"images": [absolute(p) for p in x["images"]]})
        if decode:
            ds = ds.cast_column("images", datasets.Sequence(datasets.Image()))
    elif "videos" in cols:
        ds = ds.map(lambda x: {"videos": [absolute(p) for p in x["videos"]]})
    else:
        ds = ds.map(lambda x: {"chosen": absolute(x["chosen"]), "rejected": absolute(x["rejected"])})
    return ds
