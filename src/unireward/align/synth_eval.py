"""Measuring a generator of the synthetic world before and after alignment: held-out captions, the oracle's
verdict on fixed-seed samples, bootstrap intervals of the change, and a before/after picture grid. Shared by
``experiments/align_generation.py`` (the proof) and the stage-3 section of `unireward demo`.

Design choices a user will notice:
- **Accuracy** is the share of samples the oracle finds fully right (every caption element); **fraction** the
  mean share of elements right. Each held-out caption gets `k` samples with seeds ``1000 * i + j``, the same
  before and after, so a change is the model's, not the noise's.
- **Intervals** resample held-out captions (2,000 percentile-bootstrap draws), paired: before and after are
  compared on the same resampled captions.
- Sampling settings are the pipeline's own (``unireward_align.json``: a small generator and its aligned
  descendants sample alike) unless ``gen_options`` overrides them.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

from unireward.tasks import Form, Task


KINDS = {"image": (Task.IMAGE_GENERATION, "diffusers"), "video": (Task.VIDEO_GENERATION, "t2v")}
Rows = list[list[tuple[bool, float]]]  # per caption, per sample: (fully right, fraction of elements right)


def captions(kind: str, split: str, n: int, seed: int = 0) -> list[str]:
    """`n` distinct captions of the synthetic world's `split` (image or video generation)."""
    from unireward.synth import make_sample

    out: list[str] = []
    i = 0
    while len(out) < n and i < 50 * n:
        c = make_sample(KINDS[kind][0], Form.POINT, split, i, seed=seed).prompt
        if c not in out:
            out.append(c)
        i += 1
    return out


def write_prompts(path: Path, caps: list[str], prefix: str) -> Path:
    """A construct prompts file (``id``, ``prompt``) of the captions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"id": f"{prefix}-{i}", "prompt": c}) + "\n" for i, c in enumerate(caps)))
    return path


def oracle_eval(pipeline: str | Path, kind: str, caps: list[str], k: int, out: Path,
                gen_options: dict[str, Any] | None = None) -> tuple[Rows, list[list[str]]]:
    """The oracle's (fully right, fraction) for `k` samples of each caption, and the samples' paths."""
    from unireward.construct.generators import load_generator
    from unireward.construct.items import PromptItem
    from unireward.synth import Oracle

    task, spec = KINDS[kind]
    gen, oracle = load_generator(f"{spec}:{pipeline}", task, **(gen_options or {})), Oracle()
    rows, paths = [], []
    for i, c in enumerate(caps):
        cands = gen.generate(PromptItem(id=f"eval-{i}", prompt=c, position=i), k, seed=1000 * i,
                             media_dir=out / str(i))
        fracs = [oracle_fraction(oracle, kind, c, x.path) for x in cands]
        rows.append([(f == 1.0, float(f)) for f in fracs])
        paths.append([x.path for x in cands])
    return rows, paths


def oracle_elements(oracle: Any, kind: str, caption: str, media: Any) -> dict[str, int]:
    """The oracle's 0/1 label of each caption element in an image or a video."""
    return oracle.score_image(caption, media)[1] if kind == "image" else oracle.score_video(caption, media).elements


def oracle_fraction(oracle: Any, kind: str, caption: str, media: Any) -> float:
    """The share of the caption's elements the oracle finds right in an image or a video (1.0: fully right)."""
    from unireward.synth.semantics import fraction

    return fraction(oracle_elements(oracle, kind, caption, media))


def by_element_kind(kind: str, caps: list[str], paths: list[list[str]]) -> dict[str, float]:
    """The share of caption elements the oracle finds right, per element kind (colour, shape, position, relation,
    motion, ...: the part of an element name in parentheses), over every sample in `paths`. A fully-right rate
    hides which skills move; this shows them."""
    from unireward.synth import Oracle

    oracle, right, total = Oracle(), Counter(), Counter()
    for cap, row in zip(caps, paths):
        for path in row:
            for name, ok in oracle_elements(oracle, kind, cap, path).items():
                k = name[name.rfind("(") + 1:name.rfind(")")] if "(" in name else name
                right[k] += ok
                total[k] += 1
    return {k: round(right[k] / total[k], 4) for k in sorted(total)}


def summarize(rows: Rows) -> dict[str, float]:
    flat = [x for r in rows for x in r]
    return {"accuracy": sum(a for a, _ in flat) / len(flat), "fraction": sum(s for _, s in flat) / len(flat)}


def bootstrap_change(before: Rows, after: Rows, reps: int = 2000, seed: int = 0) -> dict[str, list[float]]:
    """Paired 95% intervals of the change in accuracy and fraction, resampling held-out captions."""
    rng = random.Random(seed)
    per = [(sum(a for a, _ in y) / len(y) - sum(a for a, _ in x) / len(x),
            sum(s for _, s in y) / len(y) - sum(s for _, s in x) / len(x)) for x, y in zip(before, after)]
    draws = []
    for _ in range(reps):
        pick = [per[rng.randrange(len(per))] for _ in per]
        draws.append((sum(p[0] for p in pick) / len(pick), sum(p[1] for p in pick) / len(pick)))
    out = {}
    for j, name in enumerate(("accuracy", "fraction")):
        vals = sorted(d[j] for d in draws)
        out[name] = [vals[int(0.025 * reps)], vals[int(0.975 * reps) - 1]]
    return out


def small_dpo_config(steps: int | None, seed: int = 0, **overrides: Any):
    """Diffusion-DPO settings for the small generators: the paper's loss and β, a fixed step budget (None: the
    paper's 3 epochs), and a learning rate for a model trained from scratch at 1e-3 (the paper's 1e-8 × batch
    scaling is for SDXL-Turbo). 3e-5 was chosen on val captions for the shipped generator (1e-4 and up degrade
    it; docs/align.md has the search)."""
    from unireward.align.diffusion import DiffusionDPOConfig

    base = {"max_steps": steps, "seed": seed, "learning_rate": 3e-5, "scale_lr": False, "per_device_batch_size": 16,
            "gradient_accumulation_steps": 1, "warmup_steps": 0, "gradient_checkpointing": False,
            "checkpointing_steps": 0, "logging_steps": 25, "verify_media": False}
    return DiffusionDPOConfig(**{**base, **overrides})


def before_after_grid(caps: list[str], before: list[list[str]], after: list[list[str]], path: Path,
                      n: int = 6) -> Path:
    """The first sample of the first `n` captions, before (top row) and after (bottom row), with the oracle's
    verdict under each (a video shows its middle frame)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from unireward.media import load_image, load_video
    from unireward.synth import Oracle

    oracle, n = Oracle(), min(n, len(caps))
    fig, axes = plt.subplots(2, n, figsize=(2.1 * n, 4.6), squeeze=False)
    for row, (label, paths) in enumerate((("before", before), ("after", after))):
        for i in range(n):
            p, ax = paths[i][0], axes[row][i]
            video = Path(p).suffix == ".mp4"
            img = load_video(p, num_frames=8)[4] if video else load_image(p)
            frac = oracle_fraction(oracle, "video" if video else "image", caps[i], p)
            ax.imshow(img)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(f"{'right' if frac == 1.0 else 'wrong'} ({frac:.2f})", fontsize=8,
                          color="green" if frac == 1.0 else "red")
            if row == 0:
                ax.set_title(caps[i], fontsize=7, wrap=True)
        axes[row][0].set_ylabel(label)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
