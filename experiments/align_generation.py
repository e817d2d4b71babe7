"""Does Diffusion-DPO on judge-constructed pairs make a generator better? (issue 12, items 3-4)

For each given generator (a diffusers text-to-image and/or text-to-video pipeline folder):

1. captions of the synthetic world: ``--train-captions`` from the train split, ``--test-captions`` held out;
2. ``--n`` samples per training caption (generated once, shared by every run through one construct store);
3. pairs by each signal (the exact oracle, and ``--judge`` if given) × each strategy (pair-point, point-only,
   pair-only, random), with `unireward construct`;
4. Diffusion-DPO of the generator on each pair set with the same budget (``--steps``), for each ``--seeds``;
5. the oracle's accuracy (share of samples with every caption element right) and mean fraction of elements right
   on the held-out captions, before and after (and per element kind: colour, position, motion, ...), with
   bootstrap 95% intervals of the change (resampling captions),
   and a before/after picture grid per run (``OUT/KIND/grids``).

    python experiments/align_generation.py --image-generator assets/small-t2i --video-generator assets/small-t2v \
        --judge assets/small-judge --out runs/align-generation

Writes ``OUT/results.json`` and ``OUT/results.md`` (the strategy × signal table). Nothing here is tuned to pass
a target: the numbers are whatever the run measures.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from unireward.align.synth_eval import (
    KINDS,
    before_after_grid,
    bootstrap_change,
    by_element_kind,
    captions,
    oracle_eval,
    small_dpo_config,
    summarize,
    write_prompts,
)


STRATEGIES = ("pair-point", "point-only", "pair-only", "random")


def construct_pairs(kind: str, generator: str, judge: Any, signal: str, strategy: str, prompts: Path, out: Path,
                    n: int, gen_options: dict[str, Any], store: Path) -> Path:
    from unireward.construct.run import construct

    task, spec = KINDS[kind]
    folder = out / "pairs" / f"{signal}-{strategy}"
    construct(task, prompts, f"{spec}:{generator}", judge, folder, n=n, strategy=strategy, resume=True,
              progress=False, generator_options=gen_options, store_path=store)
    return folder


def align(generator: str, pairs: Path, out: Path, steps: int, seed: int, overrides: dict[str, Any]) -> Path:
    from unireward.align.diffusion import train_diffusion_dpo

    train_diffusion_dpo(pairs, generator, out, small_dpo_config(steps, seed, **overrides), resume=False)
    return out


def run_kind(kind: str, generator: str, judges: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    out = Path(args.out) / kind
    gen_options = {k: v for k, v in (("steps", args.sample_steps), ("height", args.size), ("width", args.size),
                                     ("num_frames", args.frames if kind == "video" else None)) if v is not None}
    train = write_prompts(out / "train.jsonl", captions(kind, "train", args.train_captions, args.seed), "train")
    test_caps = captions(kind, args.eval_split, args.test_captions, args.seed)
    store = Path(args.store) if args.store else out / "construct-store"
    before, before_paths = oracle_eval(generator, kind, test_caps, args.eval_samples, out / "eval" / "base",
                                       gen_options)
    result: dict[str, Any] = {"generator": generator, "before": summarize(before),
                              "before_by_kind": by_element_kind(kind, test_caps, before_paths), "runs": []}
    overrides = json.loads(args.dpo_overrides or "{}")
    for signal, judge in judges.items():
        for strategy in args.strategies:
            pairs = construct_pairs(kind, generator, judge, signal, strategy, train, out, args.n, gen_options,
                                    store)
            for seed in args.seeds:
                name = f"{signal}-{strategy}-s{seed}"
                aligned = align(generator, pairs, out / "dpo" / name, args.steps, seed, overrides)
                after, after_paths = oracle_eval(aligned, kind, test_caps, args.eval_samples, out / "eval" / name,
                                                 gen_options)
                before_after_grid(test_caps, before_paths, after_paths, out / "grids" / f"{name}.png")
                result["runs"].append({"signal": signal, "strategy": strategy, "seed": seed,
                                       "after": summarize(after), "change_ci95": bootstrap_change(before, after),
                                       "after_by_kind": by_element_kind(kind, test_caps, after_paths)})
    return result


def table(results: dict[str, Any]) -> str:
    lines = []
    for kind, res in results.items():
        b = res["before"]
        lines += [f"### {kind} generator ({res['generator']})", "",
                  f"Before: accuracy {b['accuracy']:.3f}, fraction {b['fraction']:.3f}", "",
                  "| signal | strategy | seed | accuracy | Δ accuracy 95% CI | fraction | Δ fraction 95% CI |",
                  "|---|---|---|---|---|---|---|"]
        for r in res["runs"]:
            a, ci = r["after"], r["change_ci95"]
            lines.append(f"| {r['signal']} | {r['strategy']} | {r['seed']} | {a['accuracy']:.3f} | "
                         f"[{ci['accuracy'][0]:+.3f}, {ci['accuracy'][1]:+.3f}] | {a['fraction']:.3f} | "
                         f"[{ci['fraction'][0]:+.3f}, {ci['fraction'][1]:+.3f}] |")
        lines.append("")
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> Path:
    """Δ accuracy with its 95% interval for every run (one panel per generator kind): what the tables say, at a
    glance, and whether any interval clears zero."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width = max(7.0, 0.6 * max(len(r["runs"]) for r in results.values()))
    fig, axes = plt.subplots(1, len(results), figsize=(width * len(results), 3.8), squeeze=False)
    for ax, (kind, res) in zip(axes[0], results.items()):
        runs = res["runs"]
        lo = [r["change_ci95"]["accuracy"][0] for r in runs]
        hi = [r["change_ci95"]["accuracy"][1] for r in runs]
        mid = [r["after"]["accuracy"] - res["before"]["accuracy"] for r in runs]
        colours = ["tab:blue" if r["signal"] == "oracle" else "tab:orange" for r in runs]
        x = range(len(runs))
        ax.bar(x, mid, color=colours, yerr=[[m - a for m, a in zip(mid, lo)], [b - m for m, b in zip(mid, hi)]],
               capsize=3)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xticks(list(x), [f"{r['signal']}\n{r['strategy']}\ns{r['seed']}" for r in runs], fontsize=7)
        ax.set_ylabel("Δ accuracy (fully right), 95% CI")
        ax.set_title(f"{kind} generator: before {res['before']['accuracy']:.3f}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--image-generator", help="diffusers text-to-image pipeline folder")
    p.add_argument("--video-generator", help="diffusers text-to-video pipeline folder")
    p.add_argument("--judge", help="a judge for load_judge (the small judge); the oracle is always run")
    p.add_argument("--judge-mode", default="reason-logprob", help="the judge's mode (the small judge reasons first)")
    p.add_argument("--out", required=True)
    p.add_argument("--train-captions", type=int, default=200)
    p.add_argument("--test-captions", type=int, default=100)
    p.add_argument("--n", type=int, default=10, help="samples per training caption")
    p.add_argument("--eval-samples", type=int, default=4, help="samples per held-out caption")
    p.add_argument("--steps", type=int, default=100, help="DPO optimizer steps (the same budget for every set)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES,
                   help="construction strategies to run (default: all four)")
    p.add_argument("--seed", type=int, default=0, help="caption seed")
    p.add_argument("--size", type=int, help="sample height and width (default: the pipeline's)")
    p.add_argument("--frames", type=int, help="video frames (default: the pipeline's recorded count)")
    p.add_argument("--sample-steps", type=int, help="sampling steps (default: the pipeline's recorded steps)")
    p.add_argument("--signals", nargs="+", default=["oracle", "judge"], choices=["oracle", "judge"],
                   help="which pair signals to run (the judge's only with --judge)")
    p.add_argument("--eval-split", default="test", choices=["val", "test"],
                   help="held-out captions to measure on (val: for choosing settings)")
    p.add_argument("--store", help="the construct store of samples and verdicts (default OUT/KIND/construct-store); "
                                   "another run's, to reuse its samples")
    p.add_argument("--dpo-overrides", help='JSON of DiffusionDPOConfig fields, e.g. \'{"beta": 2500}\'')
    args = p.parse_args(argv)
    from unireward.synth import Oracle

    judges: dict[str, Any] = {"oracle": Oracle()} if "oracle" in args.signals else {}
    if args.judge and "judge" in args.signals:
        import unireward

        judges["judge"] = unireward.load_judge(args.judge, mode=args.judge_mode, batch_size=16)
    results = {}
    for kind, gen in (("image", args.image_generator), ("video", args.video_generator)):
        if gen:
            results[kind] = run_kind(kind, gen, judges, args)
    out = Path(args.out)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(table(results))
    if results:
        plot(results, out / "gains.png")
    print(table(results))
    return results


if __name__ == "__main__":
    main()
