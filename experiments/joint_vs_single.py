"""The paper's central claim at CPU scale: does one judge trained on all four tasks beat single-task judges?

    python experiments/joint_vs_single.py --steps 800 --out runs/joint_vs_single
    python experiments/joint_vs_single.py --base runs/small-judge/stage1b --rationale checks \
        --eval-mode reason-logprob --set learning_rate=5e-4 freeze_vision_tower=true --out runs/jvs-staged

Trains, from the same initialisation (a random small VLM, or --base: e.g. the staged recipe's stage 1b model,
as the shipped judge's stage 2 starts) and on the same synthetic data, one small judge per task (on that
task's records only) and one joint judge (all four tasks, task-balanced batches), every judge for the same
number of optimiser steps with the same batch size (matched steps: the joint judge sees a quarter as many
examples of each task). Each judge is then evaluated on the held-out test split of its tasks (--eval-mode;
generate by default). Prints JSON (pairwise accuracy and pointwise Spearman per task, single vs joint) and writes
OUT/joint_vs_single.json and OUT/joint_vs_single.png (grouped bars).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


TASKS = ("image_generation", "image_understanding", "video_generation", "video_understanding")


def plot(table: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    x = range(len(TASKS))
    for ax, metric in zip(axes, ("pair_acc", "spearman")):
        for k, (who, color) in enumerate((("single", "#9aa5b1"), ("joint", "#2f6db5"))):
            vals = [table[t][who].get(metric) or 0.0 for t in TASKS]
            ax.bar([i + (k - 0.5) * 0.38 for i in x], vals, 0.38, label=who, color=color)
        ax.set_xticks(list(x), [t.replace("_", "\n") for t in TASKS], fontsize=8)
        ax.set_title({"pair_acc": "pairwise accuracy (test)", "spearman": "pointwise Spearman (test)"}[metric])
        low = min([0.0] + [table[t][w].get(metric) or 0.0 for t in TASKS for w in ("single", "joint")])
        ax.set_ylim(0 if metric == "pair_acc" else min(-0.1, low - 0.1), 1)
        ax.axhline(0.5 if metric == "pair_acc" else 0.0, color="k", lw=0.5, ls=":")
    axes[0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="runs/joint_vs_single")
    ap.add_argument("--steps", type=int, default=800, help="Optimiser steps for every judge (matched).")
    ap.add_argument("--n-train", type=int, default=3000, help="Training records per task and form.")
    ap.add_argument("--n-test", type=int, default=100, help="Test records per task and form.")
    ap.add_argument("--difficulty", type=float, default=None, help="default: the shipped judge's")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--base", default=None, help="Start every judge from this model folder (default: random).")
    ap.add_argument("--rationale", default="checks", choices=["describe", "checks"],
                    help="Training rationales (checks: the staged recipe's describe-check-decide layout).")
    ap.add_argument("--eval-mode", default="generate", help="Judge mode on the test split, e.g. reason-logprob.")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="JudgeSFTConfig overrides on top of configs/small-judge.yaml (max_steps is --steps).")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from unireward.train.cli import parse_overrides
    from unireward.train.small import DIFFICULTY, train_small_judge

    args.difficulty = DIFFICULTY if args.difficulty is None else args.difficulty
    out = Path(args.out)
    runs = {t: [t] for t in TASKS} | {"joint": list(TASKS)}
    results = {}
    overrides = {**parse_overrides(args.set), "max_steps": args.steps}
    for name, tasks in runs.items():
        t0 = time.time()
        res = train_small_judge(out / name, out / "work", n_train=args.n_train, n_test=args.n_test, seed=args.seed,
                                difficulty=args.difficulty, tasks=tasks, overrides=overrides, base=args.base,
                                rationale=args.rationale, eval_mode=args.eval_mode)
        results[name] = res["test"]["tasks"]
        print(f"{name}: {json.dumps(res['test']['tasks'])} ({time.time() - t0:.0f} s)", flush=True)
    keys = ("pair_acc", "pair_diff", "spearman", "unparsed")
    table = {t: {"single": {k: results[t][t].get(k) for k in keys},
                 "joint": {k: results["joint"][t].get(k) for k in keys}} for t in TASKS}
    summary = {"steps": args.steps, "overrides": args.set, "n_train_per_task_form": args.n_train,
               "difficulty": args.difficulty, "seed": args.seed, "base": args.base, "rationale": args.rationale,
               "eval_mode": args.eval_mode, "table": table}
    out.mkdir(parents=True, exist_ok=True)
    (out / "joint_vs_single.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot(table, out / "joint_vs_single.png")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
