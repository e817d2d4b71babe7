"""How many pairs, and how good, does each `--min-reasoning-prob` keep? No DPO: pairs and their oracle quality only.

Runs `unireward construct` (pair-point) on one seed's training questions of `experiments/align_understanding.py`
at every threshold given, on that run's judge store, so the judge is called only for judgments the store lacks
(a lower threshold decides more pairs, whose scores an earlier threshold may not have needed), and grades each
pair set with the oracle (`align_understanding.pair_quality`). Writes ``sweep.json`` and ``sweep.png`` (pairs
kept and chosen / rejected right per threshold) in ``--out``.

    .venv/bin/python experiments/reasoning_filter_sweep.py --out runs/sweep-img-s0 \\
        --store runs/au-rl-j12/image_understanding-seed0/stores/judge --task image_understanding --seed 0

The answerer, sampling settings and question count must be the run's (defaults: the 4,500-question runs of
docs/align.md), or the store's samples are not found and the answers are sampled again.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import align_understanding as exp


def sweep(args: argparse.Namespace) -> list[dict[str, Any]]:
    import unireward as ur
    from unireward.construct.run import construct
    from unireward.synth import Oracle

    judge, oracle = ur.load_judge(args.judge, mode="reason-logprob"), Oracle()
    questions = exp.write_questions(args.out, args.task, "train", args.train_questions, args.seed)
    spec = (f"vlm:{args.answerer}?temperature={args.temperature}&max_new_tokens={args.max_new_tokens}"
            f"&num_frames=8&video_as={args.video_as}")
    rows = []
    for r in args.thresholds:
        pairs, start = args.out / f"pair-point-reasoning{r:g}", time.time()
        summary = construct(args.task, questions, spec, judge, pairs, n=args.n, strategy="pair-point",
                            seed=args.seed, progress=False, store_path=args.store,
                            **({"min_reasoning_prob": r} if r > 0 else {}))
        kept = sum(1 for _ in open(pairs / "pairs.jsonl"))
        quality = exp.pair_quality(pairs, questions, oracle)
        rows.append({"min_reasoning_prob": r, "pairs": kept, "chosen_right": quality["chosen_right"],
                     "rejected_right": quality["rejected_right"], "judge_calls": summary.get("judge_calls"),
                     "seconds": round(time.time() - start, 1)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: r["min_reasoning_prob"])
    x = [r["min_reasoning_prob"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(x, [r["pairs"] for r in rows], width=0.06, color="#c8d6e5", label="pairs kept")
    ax.set_xlabel("min_reasoning_prob (0 = no filter)")
    ax.set_ylabel("pairs kept")
    right = ax.twinx()
    right.plot(x, [r["chosen_right"] for r in rows], "o-", color="#10ac84", label="chosen right")
    right.plot(x, [r["rejected_right"] for r in rows], "s-", color="#ee5253", label="rejected right")
    right.set_ylim(0, 1)
    right.set_ylabel("share fully right (oracle)")
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], loc="center left", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", type=Path, required=True, help="The run's judge store (samples and judgments).")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--task", default="image_understanding", choices=["image_understanding", "video_understanding"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--thresholds", type=float, nargs="+", default=[0.9, 0.8, 0.7, 0.6, 0.5, 0.0])
    p.add_argument("--judge", default="assets/small-judge")
    p.add_argument("--answerer", default="assets/small-answerer")
    p.add_argument("--train-questions", type=int, default=4500)
    p.add_argument("--n", type=int, default=10)
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--video-as", default="frames", choices=["video", "frames"])
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = sweep(args)
    (args.out / "sweep.json").write_text(json.dumps(rows, indent=1) + "\n")
    plot(rows, args.out / "sweep.png", f"{args.task}, seed {args.seed}: judge pair-point pairs per threshold")
    return rows


if __name__ == "__main__":
    main()
