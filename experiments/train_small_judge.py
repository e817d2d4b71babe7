"""Train the small synthetic-world judge shipped in assets/small-judge, from scratch, on the CPU: the staged recipe.

    python experiments/train_small_judge.py --output assets/small-judge --vlm-output assets/small-vlm-base \
        --work runs/small-judge

One command, four stages (`unireward.train.small.train_staged`):

0. a random small Qwen2.5-VL (`unireward.train.small.ARCH`, overridable with --arch KEY=VALUE); its vision tower
   pretrained on the synthetic world's per-merged-token scene labels (`unireward train vision`);
1. tower frozen, merger + language model trained to describe images and clips (`unireward train align`);
   the result is copied to --vlm-output (the small VLM base);
1b. the language model learns the judge's reasoning from text alone: the judge prompt and the true descriptions,
   then the correct answer, one check line per candidate, the verdict or score (`unireward train reason`);
2. judge SFT on all four tasks, both forms, describe-check-decide rationales, task-balanced, through
   `unireward train judge`'s code path, on N records per task and form (no row seen twice at the step budget);
   then the held-out test split is judged in reason-logprob mode.

Each stage resumes from its state under --work and prints its held-out probe as it trains. The script prints
per-stage seconds and probe results, then JSON: per task pairwise accuracy (all pairs, ties included, and
non-tie pairs) and the Spearman correlation of pointwise scores with the exact labels. The same JSON is written
to OUTPUT/metrics.json. Capacity variants are measured by running the stages one at a time
(`unireward train vision`, `unireward train align`, `unireward train judge`).
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--output", default="assets/small-judge", help="Folder for the trained judge.")
    ap.add_argument("--vlm-output", default=None, help="Folder for a copy of the stage 0-1 model (small VLM base).")
    ap.add_argument("--work", default="runs/small-judge", help="Folder for the data, stages and checkpoints.")
    ap.add_argument("--n-train", type=int, default=None, help="Stage 2 training records per task and form "
                    "(default: unireward.train.small.STAGED_RECORDS).")
    ap.add_argument("--n-test", type=int, default=100, help="Test records per task and form.")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--difficulty", type=float, default=None, help="Synthetic world difficulty (0 easy, 1 hard; "
                    "default: unireward.train.small.DIFFICULTY).")
    ap.add_argument("--arch", nargs="*", default=[], metavar="KEY=VALUE", help="ARCH overrides, e.g. layers=6.")
    ap.add_argument("--vision", nargs="*", default=[], metavar="KEY=VALUE", help="VisionSettings overrides.")
    ap.add_argument("--align", nargs="*", default=[], metavar="KEY=VALUE", help="AlignSettings overrides.")
    ap.add_argument("--reason", nargs="*", default=[], metavar="KEY=VALUE", help="ReasonSettings overrides.")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="Stage 2 JudgeSFTConfig overrides on top of configs/small-judge.yaml and "
                    "unireward.train.small.STAGED['judge'], e.g. max_steps=3000.")
    ap.add_argument("--probe-every", type=int, default=1000, help="Stage 2: judge val records every N steps.")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from unireward.train.cli import parse_overrides
    from unireward.train.small import DIFFICULTY, STAGED, STAGED_RECORDS, train_staged
    from unireward.train.stages import AlignSettings, ReasonSettings, VisionSettings

    start = time.time()
    difficulty = DIFFICULTY if args.difficulty is None else args.difficulty
    common = {"seed": args.seed, "difficulty": difficulty}
    vision = VisionSettings(**{**common, "steps": STAGED["vision_steps"], **parse_overrides(args.vision)})
    align = AlignSettings(**{**common, "steps": STAGED["align_steps"], **parse_overrides(args.align)})
    reason = ReasonSettings(**{**common, "steps": STAGED["reason_steps"], **parse_overrides(args.reason)})
    result = train_staged(args.output, args.work, vlm_output=args.vlm_output, vision=vision, align=align,
                          reason=reason, n_train=args.n_train or STAGED_RECORDS, n_test=args.n_test,
                          seed=args.seed, difficulty=difficulty,
                          arch=parse_overrides(args.arch), overrides=parse_overrides(args.set),
                          probe_every=args.probe_every, log=lambda line: print(line, flush=True))
    result["seconds"]["wall"] = round(time.time() - start, 1)
    print(json.dumps({"seconds": result["seconds"], "stage0_probe": result["stage0"]["probe"],
                      "stage1_probe": result["stage1"]["probe"], "stage1b_probe": result["stage1b"]["probe"],
                      "test": result["stage2"]["test"]}, indent=2))


if __name__ == "__main__":
    main()
