"""The stage-3 section of `unireward demo`: the whole loop on the small text-to-image generator.

1. the shipped small generator (``assets/small-t2i``, `unireward.train.generator`) samples ``n`` images for each of
   a few training captions;
2. the small judge ranks them (`unireward construct`, pair-point: pair ranking, then point sifting) into
   preference pairs;
3. a short Diffusion-DPO run (`unireward.align.diffusion`, the small-model settings of
   `unireward.align.synth_eval.small_dpo_config`, the paper's 3 epochs) aligns the generator on those pairs;
4. the oracle judges fixed-seed samples of held-out captions before and after (accuracy = fully right), with a
   paired bootstrap interval of the change and a picture grid of the same captions and seeds.

At the demo's budget (a few dozen captions, 3 epochs over their pairs) the change is small and its interval wide;
at this scale Diffusion-DPO has not improved the small generator even on the exact oracle's pairs (docs/align.md,
where ``experiments/align_generation.py``'s full proof with every strategy and both signals is reported).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


GENERATOR = Path(__file__).resolve().parents[2] / "assets" / "small-t2i"


def run_stage3(output: Path, judge: Any, generator: str | Path = GENERATOR, train_captions: int = 32, n: int = 10,
               test_captions: int = 40, eval_samples: int = 2, steps: int | None = None, progress: bool = True,
               **dpo: Any) -> dict[str, Any]:
    """Sample, judge, construct, DPO, re-measure; returns the numbers and the grid's path (in OUTPUT/stage3).
    `steps` None trains the paper's 3 epochs over the pairs (batch 8); `dpo` overrides `small_dpo_config`."""
    from unireward.align.diffusion import train_diffusion_dpo
    from unireward.align.synth_eval import (
        before_after_grid,
        bootstrap_change,
        captions,
        oracle_eval,
        small_dpo_config,
        summarize,
        write_prompts,
    )
    from unireward.construct.run import construct
    from unireward.tasks import Task

    out, times = Path(output) / "stage3", {}
    t = time.time()
    prompts = write_prompts(out / "train.jsonl", captions("image", "train", train_captions), "train")
    pairs = out / "pairs"
    summary = construct(Task.IMAGE_GENERATION, prompts, f"diffusers:{generator}", judge, pairs, n=n,
                        strategy="pair-point", resume=False, progress=progress)
    times["construct"] = time.time() - t
    t = time.time()
    test = captions("image", "test", test_captions)
    before, before_paths = oracle_eval(generator, "image", test, eval_samples, out / "eval" / "before")
    result = {"generator": str(generator), "train_captions": train_captions, "n": n, "pairs": summary["kept"],
              "construct": {k: v for k, v in summary.items() if isinstance(v, (int, float))}, "dpo_steps": 0,
              "test_captions": test_captions, "eval_samples": eval_samples, "before": summarize(before)}
    if not summary["kept"]:  # every caption's samples tied for the judge: nothing to train on, and the report says so
        return {**result, "seconds": {k: round(v, 1) for k, v in times.items()}}
    aligned = out / "aligned"
    cfg = small_dpo_config(steps, **{"per_device_batch_size": 8, **dpo})
    dpo_summary = train_diffusion_dpo(pairs, str(generator), aligned, cfg, resume=False)
    after, after_paths = oracle_eval(aligned, "image", test, eval_samples, out / "eval" / "after")
    times["dpo_and_eval"] = time.time() - t
    grid = before_after_grid(test, before_paths, after_paths, out / "before_after.png")
    return {**result, "pairs": dpo_summary["pairs"], "dpo_steps": dpo_summary["steps"], "after": summarize(after),
            "change_ci95": bootstrap_change(before, after), "grid": str(grid),
            "seconds": {k: round(v, 1) for k, v in times.items()}}


def report_lines(output: Path, r: dict[str, Any]) -> list[str]:
    """The stage-3 section of report.md."""
    head = "## Stage 3: align the small generator with the judge's pairs"
    if not r["pairs"]:
        return [head, "", f"`{r['generator']}` sampled {r['n']} images for each of {r['train_captions']} training "
                "captions; the judge found every caption's samples tied, so **no preference pair was kept and "
                f"Diffusion-DPO did not run**. Before: accuracy {r['before']['accuracy']:.3f}, fraction of "
                f"elements right {r['before']['fraction']:.3f}. More captions (`stage3_options`) give it more "
                "chances.", ""]
    b, a, ci = r["before"], r["after"], r["change_ci95"]
    return [head, "",
            f"`{r['generator']}` sampled {r['n']} images for each of {r['train_captions']} training captions; the "
            f"judge ranked them (pair-point) into {r['pairs']} preference pairs; Diffusion-DPO ran "
            f"{r['dpo_steps']} steps. The oracle judged {r['eval_samples']} fixed-seed samples of each of "
            f"{r['test_captions']} held-out captions before and after.", "",
            "| | accuracy (fully right) | fraction of elements right |", "|---|---|---|",
            f"| before | {b['accuracy']:.3f} | {b['fraction']:.3f} |",
            f"| after | {a['accuracy']:.3f} | {a['fraction']:.3f} |",
            f"| change [95% CI] | {a['accuracy'] - b['accuracy']:+.3f} [{ci['accuracy'][0]:+.3f}, "
            f"{ci['accuracy'][1]:+.3f}] | {a['fraction'] - b['fraction']:+.3f} [{ci['fraction'][0]:+.3f}, "
            f"{ci['fraction'][1]:+.3f}] |", "",
            "Same captions and seeds, before (top) and after (bottom):", "",
            f"![before and after]({Path(r['grid']).relative_to(output)})", "",
            "A demo-sized run. At this scale Diffusion-DPO has not improved the small generator in any setting tried, "
            "even on the exact oracle's pairs: the full proof (every strategy, both signals, 200 and 600 training "
            "captions) is `experiments/align_generation.py`, reported in docs/align.md.", ""]
