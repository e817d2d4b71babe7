"""Which pair-selection strategy picks the best DPO pairs? The paper's ablation (Table XII) at CPU scale.

On the synthetic world, every caption gets N candidate images from a stand-in generator: the synth
renderer with a random number of the caption's attributes made wrong (some candidates right, some
slightly wrong, some very wrong). The four strategies (`pair-point`, `point-only`, `pair-only`, `random`)
choose one (chosen, rejected) pair per caption with the given judge, and the exact oracle measures each
pair's margin: oracle score of the chosen image minus that of the rejected one (scores on 1-5). A larger
mean margin means cleaner preference data.

All strategies share one store, so they see the same candidates and the same judge answers (pair-only
reuses pair-point's verdicts, point-only its scores). Captions come from the synth test split, which the
small judge never saw in training.

    .venv/bin/python experiments/construct_strategies.py --judge assets/small-judge --captions 100 \\
        --out runs/construct-strategies

Prints JSON (and writes results.json and strategies.png in --out). ``--judge oracle`` runs the exact oracle
as the judge (an upper bound); ``--judge noisy-oracle:SIGMA`` a simulated judge (the oracle plus noise,
integer pointwise scores), to see how the strategies behave as the judge gets worse.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


STRATEGIES = ("pair-point", "point-only", "pair-only", "random")


def make_world(out: Path, n_captions: int, n: int, seed: int, difficulty: float) -> tuple[Path, Path]:
    """Test-split captions and N rendered candidates each: prompts.jsonl and candidates.jsonl."""
    from unireward.synth import render_scene, split_of
    from unireward.synth.generate import image_scene, image_slots, sample_image_caption

    rng = np.random.default_rng(seed)
    media = out / "world"
    media.mkdir(parents=True, exist_ok=True)
    prompts, cands, seen = [], [], set()
    while len(prompts) < n_captions:
        cap = sample_image_caption(rng)
        text = cap.text()
        if split_of(text) != "test" or text in seen:
            continue
        seen.add(text)
        slots = image_slots(cap)
        p_wrong = rng.uniform(0.15, 0.6)  # how good the generator is on this caption
        pid, files = f"c{len(prompts):04d}", []
        for j in range(n):
            k = int(rng.binomial(len(slots), p_wrong))
            broken = {slots[i] for i in rng.permutation(len(slots))[:k]}
            path = media / f"{pid}-{j}.png"
            render_scene(image_scene(cap, rng, broken, difficulty), size=84).save(path)
            files.append(str(path.relative_to(out)))
        prompts.append({"id": pid, "caption": text})
        cands.append({"id": pid, "candidates": files})
    for name, rows in (("prompts.jsonl", prompts), ("candidates.jsonl", cands)):
        (out / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out / "prompts.jsonl", out / "candidates.jsonl"


class NoisyOracle:
    """A simulated judge (not a model): the oracle's 1-5 score plus Gaussian noise of `sigma`, rounded to an
    integer for pointwise answers (as a judge writing "Final Score: 4"), and compared with independent noise
    for pairwise answers. The noise is a hash of the inputs, so asking again gives the same answer."""

    def __init__(self, sigma: float):
        from unireward.synth import Oracle

        self.oracle, self.sigma, self.name = Oracle(), sigma, f"noisy-oracle:{sigma}"

    def _noisy(self, prompt: str, media: str, salt: str) -> float:
        import hashlib

        from unireward.media import content_hash

        key = hashlib.sha256(f"{prompt}|{content_hash(media)}|{salt}".encode()).digest()
        noise = np.random.default_rng(int.from_bytes(key[:8], "big")).normal(0, self.sigma)
        return self.oracle.score("image_generation", prompt, media).value + noise

    def score_batch(self, items):
        from unireward.tasks import Score

        out = []
        for x in items:
            v = float(min(5, max(1, round(self._noisy(x["prompt"], x["candidate"], "point")))))
            out.append(Score(v, scale=(1.0, 5.0), text=f"Final Score: {v:g}"))
        return out

    def compare_batch(self, items):
        from unireward.tasks import Verdict

        out = []
        for x in items:
            a, b = self._noisy(x["prompt"], x["a"], "pair-a"), self._noisy(x["prompt"], x["b"], "pair-b")
            out.append(Verdict("A" if a > b else "B", text="simulated"))
        return out


def load(spec: str, mode: str, batch_size: int):
    if spec == "oracle":
        from unireward.synth import Oracle

        return Oracle()
    if spec.startswith("noisy-oracle:"):
        return NoisyOracle(float(spec.split(":", 1)[1]))
    import unireward as ur

    return ur.load_judge(spec, mode=mode, batch_size=batch_size, device="cpu", dtype="float32")


def oracle_margins(folder: Path) -> dict[str, float]:
    """Oracle score (1-5) of chosen minus rejected, for every kept pair, by prompt id."""
    from unireward.synth import Oracle

    oracle, out = Oracle(), {}
    for line in (folder / "pairs.jsonl").read_text().splitlines():
        row = json.loads(line)
        c = oracle.score("image_generation", row["caption"], str(folder / row["jpg_0"])).value
        r = oracle.score("image_generation", row["caption"], str(folder / row["jpg_1"])).value
        out[row["id"]] = c - r
    return out


def paired(margins: dict[str, dict[str, float]], base: str = "pair-point") -> dict[str, dict]:
    """On the prompts both keep: mean margin of `base` minus that of each other strategy, with a 95% interval."""
    out = {}
    for name, m in margins.items():
        if name == base:
            continue
        common = sorted(set(m) & set(margins[base]))
        diffs = [margins[base][k] - m[k] for k in common]
        out[name] = {"prompts": len(common), "mean_difference": float(np.mean(diffs)) if diffs else None,
                     "ci95": bootstrap(diffs)}
    return out


def oracle_spread(out: Path, cands: Path) -> dict[str, float]:
    """References from the candidates alone: the best-vs-worst margin (what a perfect pointwise judge picks),
    and how often all N candidates are equally good (no judge can find a margin there)."""
    from unireward.synth import Oracle

    oracle, best = Oracle(), []
    prompts = {json.loads(x)["id"]: json.loads(x)["caption"] for x in (out / "prompts.jsonl").read_text().splitlines()}
    for line in cands.read_text().splitlines():
        row = json.loads(line)
        s = [oracle.score("image_generation", prompts[row["id"]], str(out / f)).value for f in row["candidates"]]
        best.append(max(s) - min(s))
    return {"perfect_judge_best_vs_worst": float(np.mean(best)), "all_equal": float(np.mean(np.asarray(best) == 0))}


def bootstrap(xs: list[float], seed: int = 0, reps: int = 2000) -> list[float]:
    if not xs:
        return [float("nan"), float("nan")]
    a = np.asarray(xs)
    means = np.random.default_rng(seed).choice(a, (reps, len(a))).mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def summarize(margins: list[float], summary: dict, n_prompts: int) -> dict:
    m = np.asarray(margins) if margins else np.zeros(0)
    return {"kept": summary["kept"], "dropped": summary["dropped"],
            "mean_margin": float(m.mean()) if len(m) else None, "ci95": bootstrap(margins),
            "correct_order": float((m > 0).mean()) if len(m) else None,
            "inverted": float((m < 0).mean()) if len(m) else None,
            "margin_per_prompt": float(m.sum() / n_prompts),  # dropped prompts contribute 0
            "judge_calls": summary["judge_calls"], "cache_hits": summary["cache_hits"]}


def plot(results: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    means = [results[s]["mean_margin"] or 0.0 for s in names]
    lo = [m - results[s]["ci95"][0] for s, m in zip(names, means)]
    hi = [results[s]["ci95"][1] - m for s, m in zip(names, means)]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(names, means, yerr=[lo, hi], capsize=4, color=["#2b6cb0", "#718096", "#a0aec0", "#cbd5e0"])
    ax.set_ylabel("oracle margin, chosen - rejected (1-5)")
    ax.set_title(title, fontsize=9)
    for i, s in enumerate(names):
        ax.text(i + 0.08, means[i], f" {means[i]:.2f}\n kept {results[s]['kept']}", ha="left", va="bottom",
                fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--judge", default="assets/small-judge",
                    help="a judge folder/spec, 'oracle', or 'noisy-oracle:SIGMA' (a simulation)")
    ap.add_argument("--mode", default="generate", choices=["generate", "logprob", "reason-logprob"])
    ap.add_argument("--captions", type=int, default=100)
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--difficulty", type=float, default=0.5)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--out", default="runs/construct-strategies")
    args = ap.parse_args()

    from unireward.construct.run import construct

    out = Path(args.out)
    prompts, cands = make_world(out, args.captions, args.n, args.seed, args.difficulty)
    judge = load(args.judge, args.mode, args.batch_size)
    results, margins, t0 = {}, {}, time.time()
    for strategy in STRATEGIES:
        s = construct("image_generation", prompts, f"jsonl:{cands}", judge, out / strategy, n=args.n,
                      strategy=strategy, seed=args.seed, progress=False, store_path=out / "store.sqlite")
        margins[strategy] = oracle_margins(out / strategy)
        results[strategy] = summarize(list(margins[strategy].values()), s, args.captions)
    report = {"judge": args.judge, "mode": args.mode, "captions": args.captions, "n": args.n, "seed": args.seed,
              "difficulty": args.difficulty, "seconds": round(time.time() - t0, 1),
              "references": oracle_spread(out, cands), "strategies": results,
              "pair_point_minus_other_on_common_prompts": paired(margins)}
    (out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    plot(results, out / "strategies.png", f"{args.judge} ({args.mode}), {args.captions} captions x {args.n}")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
