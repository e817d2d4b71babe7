"""Train the small synthetic-world judge shipped in assets/small-judge, from scratch, on the CPU.

    python experiments/train_small_judge.py --output assets/small-judge --work runs/small-judge

Builds the synthetic world (train / val / test), exports the train split as v1 conversations, builds a random
Qwen2.5-VL of a few million parameters with a tokenizer trained on the synthetic vocabulary and the prompt
templates, trains it jointly on the four tasks with `unireward train judge`'s code path
(`unireward.train.small.train_small_judge`, config `src/unireward/train/configs/small-judge.yaml`), then
judges the held-out test split in logprob mode and prints JSON: per task, pairwise accuracy (all pairs, ties
included, and non-tie pairs) and the Spearman correlation of pointwise scores with the exact labels, plus
timings. The same JSON is written to OUTPUT/metrics.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--output", default="assets/small-judge", help="Folder for the trained judge.")
    ap.add_argument("--work", default="runs/small-judge", help="Folder for the data, base model and checkpoints.")
    ap.add_argument("--n-train", type=int, default=3000, help="Training records per task and form.")
    ap.add_argument("--n-test", type=int, default=100, help="Test records per task and form.")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--difficulty", type=float, default=None, help="Synthetic world difficulty (0 easy, 1 hard; "
                    "default: unireward.train.small.DIFFICULTY).")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="JudgeSFTConfig overrides on top of configs/small-judge.yaml, e.g. max_steps=2000.")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from unireward.train.cli import parse_overrides
    from unireward.train.small import DIFFICULTY, train_small_judge

    start = time.time()
    difficulty = DIFFICULTY if args.difficulty is None else args.difficulty
    result = train_small_judge(args.output, args.work, n_train=args.n_train, n_test=args.n_test, seed=args.seed,
                               difficulty=difficulty, overrides=parse_overrides(args.set))
    result["total_seconds"] = round(time.time() - start, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
