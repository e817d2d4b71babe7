"""Does Diffusion-DPO on judge-constructed pairs make a generator better? (issue 12, items 3-4)

For each given generator (a diffusers text-to-image and/or text-to-video pipeline folder):

1. captions of the synthetic world: ``--train-captions`` from the train split, ``--test-captions`` held out;
2. ``--n`` samples per training caption (generated once, shared by every run through one construct store);
3. pairs by each signal (the exact oracle, and ``--judge`` if given) × each strategy (pair-point, point-only,
   pair-only, random), with `unireward construct`;
4. Diffusion-DPO of the generator on each pair set with the same budget (``--steps``), for each ``--seeds``;
5. the oracle's accuracy (share of samples with every caption element right) and mean score on the held-out
   captions, before and after, with bootstrap 95% intervals of the change (resampling captions).

    python experiments/align_generation.py --image-generator assets/small-t2i --video-generator assets/small-t2v \
        --judge assets/small-judge --out runs/align-generation

Writes ``OUT/results.json`` and ``OUT/results.md`` (the strategy × signal table). Nothing here is tuned to pass
a target: the numbers are whatever the run measures.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

from unireward.tasks import Form, Task


STRATEGIES = ("pair-point", "point-only", "pair-only", "random")
KINDS = {"image": (Task.IMAGE_GENERATION, "diffusers"), "video": (Task.VIDEO_GENERATION, "t2v")}


def captions(task: Task, split: str, n: int, seed: int) -> list[str]:
    """`n` distinct captions of the synthetic world's `split`."""
    from unireward.synth import make_sample

    out: list[str] = []
    i = 0
    while len(out) < n and i < 50 * n:
        c = make_sample(task, Form.POINT, split, i, seed=seed).prompt
        if c not in out:
            out.append(c)
        i += 1
    return out


def write_prompts(path: Path, caps: list[str], prefix: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"id": f"{prefix}-{i}", "prompt": c}) + "\n" for i, c in enumerate(caps)))
    return path


def oracle_eval(pipeline: str | Path, kind: str, caps: list[str], k: int, out: Path,
                gen_options: dict[str, Any]) -> list[list[tuple[bool, float]]]:
    """(fully right, score) of `k` samples per caption, seeds fixed per caption (the same before and after)."""
    from unireward.construct.generators import load_generator
    from unireward.construct.items import PromptItem
    from unireward.synth import Oracle

    task, spec = KINDS[kind]
    gen, oracle = load_generator(f"{spec}:{pipeline}", task, **gen_options), Oracle()
    results = []
    for i, c in enumerate(caps):
        item = PromptItem(id=f"test-{i}", prompt=c, position=i)
        cands = gen.generate(item, k, seed=1000 * i, media_dir=out / str(i))
        row = []
        for cand in cands:
            if kind == "image":
                frac, _ = oracle.score_image(c, cand.path)
                row.append((frac == 1.0, frac))
            else:
                vs = oracle.score_video(c, cand.path)
                row.append((vs.fraction == 1.0, float(vs.score)))
        results.append(row)
    return results


def summarize(rows: list[list[tuple[bool, float]]]) -> dict[str, float]:
    flat = [x for r in rows for x in r]
    return {"accuracy": sum(a for a, _ in flat) / len(flat), "score": sum(s for _, s in flat) / len(flat)}


def bootstrap_change(before: list[list[tuple[bool, float]]], after: list[list[tuple[bool, float]]],
                     reps: int = 2000, seed: int = 0) -> dict[str, list[float]]:
    """95% intervals of the change in accuracy and score, resampling held-out captions."""
    rng = random.Random(seed)
    per = [(sum(a for a, _ in y) / len(y) - sum(a for a, _ in x) / len(x),
            sum(s for _, s in y) / len(y) - sum(s for _, s in x) / len(x)) for x, y in zip(before, after)]
    draws = []
    for _ in range(reps):
        pick = [per[rng.randrange(len(per))] for _ in per]
        draws.append((sum(p[0] for p in pick) / len(pick), sum(p[1] for p in pick) / len(pick)))
    out = {}
    for j, name in enumerate(("accuracy", "score")):
        vals = sorted(d[j] for d in draws)
        out[name] = [vals[int(0.025 * reps)], vals[int(0.975 * reps) - 1]]
    return out


def construct_pairs(kind: str, generator: str, judge: Any, signal: str, strategy: str, prompts: Path, out: Path,
                    n: int, gen_options: dict[str, Any]) -> Path:
    from unireward.construct.run import construct

    task, spec = KINDS[kind]
    folder = out / "pairs" / f"{signal}-{strategy}"
    construct(task, prompts, f"{spec}:{generator}", judge, folder, n=n, strategy=strategy, resume=True,
              progress=False, generator_options=gen_options, store_path=out / "construct-store")
    return folder


def align(generator: str, pairs: Path, out: Path, steps: int, seed: int, overrides: dict[str, Any]) -> Path:
    from unireward.align.diffusion import DiffusionDPOConfig, train_diffusion_dpo

    cfg = DiffusionDPOConfig(**{"max_steps": steps, "seed": seed, "learning_rate": 1e-5, "scale_lr": False,
                                "per_device_batch_size": 8, "gradient_accumulation_steps": 1, "warmup_steps": 0,
                                "gradient_checkpointing": False, "checkpointing_steps": 0, "logging_steps": 50,
                                **overrides})
    train_diffusion_dpo(pairs, generator, out, cfg, resume=False)
    return out


def run_kind(kind: str, generator: str, judges: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    task, _ = KINDS[kind]
    out = Path(args.out) / kind
    gen_options = {"steps": args.sample_steps, "height": args.size, "width": args.size}
    if kind == "video":
        gen_options["num_frames"] = args.frames
    train = write_prompts(out / "train.jsonl", captions(task, "train", args.train_captions, args.seed), "train")
    test_caps = captions(task, "test", args.test_captions, args.seed)
    before = oracle_eval(generator, kind, test_caps, args.eval_samples, out / "eval" / "base", gen_options)
    result: dict[str, Any] = {"generator": generator, "before": summarize(before), "runs": []}
    overrides = json.loads(args.dpo_overrides or "{}")
    if kind == "video":
        overrides.setdefault("num_frames", args.frames)
    for signal, judge in judges.items():
        for strategy in STRATEGIES:
            pairs = construct_pairs(kind, generator, judge, signal, strategy, train, out, args.n, gen_options)
            for seed in args.seeds:
                aligned = align(generator, pairs, out / "dpo" / f"{signal}-{strategy}-s{seed}", args.steps, seed,
                                overrides)
                after = oracle_eval(aligned, kind, test_caps, args.eval_samples,
                                    out / "eval" / f"{signal}-{strategy}-s{seed}", gen_options)
                result["runs"].append({"signal": signal, "strategy": strategy, "seed": seed,
                                       "after": summarize(after), "change_ci95": bootstrap_change(before, after)})
    return result


def table(results: dict[str, Any]) -> str:
    lines = []
    for kind, res in results.items():
        b = res["before"]
        lines += [f"### {kind} generator ({res['generator']})", "",
                  f"Before: accuracy {b['accuracy']:.3f}, score {b['score']:.3f}", "",
                  "| signal | strategy | seed | accuracy | Δ accuracy 95% CI | score | Δ score 95% CI |",
                  "|---|---|---|---|---|---|---|"]
        for r in res["runs"]:
            a, ci = r["after"], r["change_ci95"]
            lines.append(f"| {r['signal']} | {r['strategy']} | {r['seed']} | {a['accuracy']:.3f} | "
                         f"[{ci['accuracy'][0]:+.3f}, {ci['accuracy'][1]:+.3f}] | {a['score']:.3f} | "
                         f"[{ci['score'][0]:+.3f}, {ci['score'][1]:+.3f}] |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--image-generator", help="diffusers text-to-image pipeline folder")
    p.add_argument("--video-generator", help="diffusers text-to-video pipeline folder")
    p.add_argument("--judge", help="a judge for load_judge (the small judge); the oracle is always run")
    p.add_argument("--out", required=True)
    p.add_argument("--train-captions", type=int, default=200)
    p.add_argument("--test-captions", type=int, default=100)
    p.add_argument("--n", type=int, default=10, help="samples per training caption")
    p.add_argument("--eval-samples", type=int, default=4, help="samples per held-out caption")
    p.add_argument("--steps", type=int, default=200, help="DPO optimizer steps (the same budget for every set)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--seed", type=int, default=0, help="caption seed")
    p.add_argument("--size", type=int, default=32, help="sample height and width")
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--sample-steps", type=int, default=20)
    p.add_argument("--dpo-overrides", help='JSON of DiffusionDPOConfig fields, e.g. \'{"beta": 2500}\'')
    args = p.parse_args(argv)
    from unireward.synth import Oracle

    judges: dict[str, Any] = {"oracle": Oracle()}
    if args.judge:
        import unireward

        judges["judge"] = unireward.load_judge(args.judge)
    results = {}
    for kind, gen in (("image", args.image_generator), ("video", args.video_generator)):
        if gen:
            results[kind] = run_kind(kind, gen, judges, args)
    out = Path(args.out)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(table(results))
    print(table(results))
    return results


if __name__ == "__main__":
    main()
