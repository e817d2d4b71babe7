"""HPDv2 test rankings (`ymhao/HPDv2`, HPSv2): per prompt, several images ranked by annotators.

Reads ``test.json`` (a JSON list of ``{"prompt", "image_path": [...], "rank": [...], "raw_annotations"}``;
`rank` is lower = better) and the images of the unpacked ``test.tar.gz``. `--data` is the HPD folder
(``HPD/test.json`` + ``HPD/test/``) or the ``test.json`` file; image paths are looked up under
``--media-root`` when given, else under ``<folder>/test/`` and then ``<folder>/``.

Design choices a user will notice:
- The judge is pairwise, so each prompt's ranking becomes all of its C(n, 2) pairs (label: the image with
  the lower rank wins; equal ranks are a tie). ``record.meta`` carries ``group`` (the prompt's index),
  ``members`` (the two images' positions in the prompt's list) and ``ranks`` (their gold ranks); the
  metrics rebuild each prompt's predicted ranking from the pairwise verdicts and report HPSv2's inversion
  score next to the pairwise accuracies (see `unireward.bench.metrics.inversion_score`).
- Ids are ``<group>-<i>-<j>``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from unireward.bench.sources._common import BenchDataError, LoadContext, MissingMediaError, existing_file, find_files
from unireward.records import Record
from unireward.tasks import Form, Task


BENCH = "hpdv2"
SPLITS = ("test",)


def load(data: Path, ctx: LoadContext) -> Iterator[Record]:
    if (ctx.split or "test") not in SPLITS:
        raise ValueError(f"{BENCH}: unknown split {ctx.split!r}; valid: {', '.join(SPLITS)}")
    path = find_files(data, ["test.json", "*/test.json"], BENCH, "test.json")[0]
    try:
        groups = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise BenchDataError(f"{BENCH}: {path}: invalid JSON ({e})", str(path)) from None
    if not isinstance(groups, list):
        raise BenchDataError(f"{BENCH}: {path}: expected a JSON list of prompts", str(path))
    roots = [ctx.media_root] if ctx.media_root else [path.parent / "test", path.parent]
    for g, entry in enumerate(groups):
        try:
            prompt, paths, ranks = _group(entry, g)
        except BenchDataError as e:
            ctx.on_error(e)
            continue
        images = _images(paths, roots, f"prompt {g}", ctx)
        if images is None:
            continue
        for i, j in itertools.combinations(range(len(images)), 2):
            winner = "A" if ranks[i] < ranks[j] else "B" if ranks[i] > ranks[j] else "tie"
            yield Record(id=f"{g}-{i}-{j}", source=BENCH, task=Task.IMAGE_GENERATION, form=Form.PAIR, prompt=prompt,
                         candidates=[{"media": [{"image": images[i]}]}, {"media": [{"image": images[j]}]}],
                         label={"winner": winner}, meta={"group": g, "members": [i, j], "ranks": [ranks[i], ranks[j]]})


def _group(entry: Any, g: int) -> tuple[str, list[str], list[float]]:
    item = f"prompt {g}"
    if not isinstance(entry, dict):
        raise BenchDataError(f"{BENCH}: {item}: expected an object", item)
    prompt, paths, ranks = entry.get("prompt"), entry.get("image_path"), entry.get("rank")
    if not isinstance(prompt, str) or not prompt.strip():
        raise BenchDataError(f"{BENCH}: {item}: field 'prompt' must be a non-empty string", item)
    if not (isinstance(paths, list) and len(paths) >= 2 and all(isinstance(p, str) for p in paths)):
        raise BenchDataError(f"{BENCH}: {item}: field 'image_path' must list at least two paths", item)
    if not (isinstance(ranks, list) and len(ranks) == len(paths)
            and all(isinstance(r, (int, float)) and not isinstance(r, bool) for r in ranks)):
        raise BenchDataError(f"{BENCH}: {item}: field 'rank' must hold one number per image ({len(paths)})", item)
    return prompt, paths, [float(r) for r in ranks]


def _images(paths: list[str], roots: list[Path], item: str, ctx: LoadContext) -> list[str] | None:
    """Absolute image paths; each missing one is reported, and the prompt is skipped (None) if any is."""
    out, ok = [], True
    for rel in paths:
        found = next((root / rel for root in roots if (root / rel).is_file()), None)
        if found is None:
            ok = False
            try:
                existing_file(roots[0] / rel, item, BENCH, "unpack test.tar.gz next to test.json or pass --media-root")
            except MissingMediaError as e:
                ctx.on_error(e)
        else:
            out.append(str(found.resolve()))
    return out if ok else None
