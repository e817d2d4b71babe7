"""`unireward demo`: the whole judge loop on the synthetic world, in about two minutes on a laptop CPU.

1. builds a held-out test split of the synthetic four-task world (`unireward.synth`; exact labels) at the
   difficulty the small judge was trained at (`unireward.train.small.DIFFICULTY`);
2. loads the small judge shipped in ``assets/small-judge`` (a few-million-parameter Qwen2.5-VL trained from
   scratch on the CPU with ``unireward train judge``), or trains it first with ``--train`` (~20 minutes);
3. judges every test record through the ordinary judge API (`unireward.predict.predict_file`,
   reason-logprob mode: the small judge describes what it sees, then the verdict's and score's options are
   read from one forward pass after its description, which gives margins and expected scores) and scores it
   with the benchmark
   metrics (`unireward.bench.metrics.compute_metrics` per task: tau, diff, their bootstrap 95% intervals,
   unparsed answers, confusion counts), the margins of the pairwise verdicts (2 P(A) - 1: how sure the judge
   is, on right and on wrong verdicts, and the accuracy of its confident half), and the Spearman correlation
   of the pointwise scores with the oracle's, which re-reads every image and video from its pixels;
4. draws a few judged examples with their pictures, and writes ``report.md`` with the plots. The accuracy
   table and bars are drawn by `unireward.bench.report` (`pair_table`, `plot_bars`), as in a benchmark report;
5. stage 3 (the command's default, ``--no-stage3`` to skip): the small generator's samples judged into pairs,
   a short Diffusion-DPO run, the oracle's accuracy before and after with a picture grid
   (`unireward.demo_align`).

Outputs in OUT: ``report.md``, ``metrics.json`` (per task ``pair``: the `compute_metrics` dict, ``point``:
Spearman and the scores), ``predictions.jsonl``, ``plots/`` (tau and diff bars per task, score-vs-oracle
scatter), ``examples/`` (pictures with verdicts), ``data/`` (the test split).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
import typer

from unireward.tasks import Form, Task


ASSET = Path(__file__).resolve().parents[2] / "assets" / "small-judge"
TASKS = [t.value for t in Task]


def demo(
    output: Annotated[Path, typer.Option(help="Folder for report.md, plots, examples and predictions.")] = Path(
        "runs/demo"),
    train: Annotated[bool, typer.Option(help="Train the small judge first (about 20 minutes on 2 cores).")] = False,
    judge: Annotated[Optional[str], typer.Option(help="Judge to evaluate (default: assets/small-judge).")] = None,
    n: Annotated[int, typer.Option(help="Test records per task and form.")] = 40,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic test split.")] = 0,
    examples: Annotated[int, typer.Option(help="Judged examples drawn in the report.")] = 4,
    mode: Annotated[str, typer.Option(help="Judge decoding mode: reason-logprob, logprob or generate.")] = (
        "reason-logprob"),
    difficulty: Annotated[Optional[float], typer.Option(
        help="Difficulty of the test world (default: the small judge's training difficulty).")] = None,
    stage3: Annotated[bool, typer.Option(
        help="Also run stage 3: the small generator's samples judged into pairs, Diffusion-DPO, before/after.")] = (
        True),
    generator: Annotated[Optional[str], typer.Option(
        help="Generator for stage 3 (default: assets/small-t2i).")] = None,
) -> None:
    """Build synthetic test data, judge it with the small judge, score it, and write report.md with plots; then
    align the small generator with the judge's pairs (stage 3)."""
    summary = run_demo(output, train=train, judge=judge, n=n, seed=seed, examples=examples, mode=mode,
                       difficulty=difficulty, stage3=stage3, generator=generator)
    keys = ("report", "seconds", "pair_acc", "spearman", "stage3")
    typer.echo(json.dumps({k: summary[k] for k in keys if k in summary}, indent=2))


def run_demo(output: str | Path = "runs/demo", train: bool = False, judge: str | Path | None = None, n: int = 40,
             seed: int = 0, examples: int = 4, mode: str = "reason-logprob", difficulty: float | None = None,
             progress: bool = True, stage3: bool = False, generator: str | Path | None = None,
             stage3_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The demo as a library call; returns the metrics and the report path. `stage3` adds the alignment section
    (`unireward.demo_align.run_stage3` with `stage3_options`; off by default here, on in the command)."""
    import unireward as ur
    from unireward.predict import predict_file
    from unireward.synth import build_dataset
    from unireward.train.small import DIFFICULTY

    difficulty = DIFFICULTY if difficulty is None else difficulty
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    t = time.time()
    build_dataset(output / "data", {"test": n}, seed=seed, splits=("test",), difficulty=difficulty)
    records_path = output / "data" / "test" / "records.jsonl"
    times["data"] = time.time() - t
    t = time.time()
    judge_path = _judge_path(output, train, judge, progress)
    times["train" if train else "load"] = time.time() - t
    t = time.time()
    the_judge = ur.load_judge(judge_path, mode=mode, batch_size=16)
    preds = output / "predictions.jsonl"
    preds.unlink(missing_ok=True)
    predict_file(the_judge, records_path, preds, batch_size=16, progress=progress, check=False)
    times["judge"] = time.time() - t
    t = time.time()
    rows = [json.loads(line) for line in preds.read_text().splitlines()]
    metrics = score(rows, records_path)
    times["score"] = time.time() - t
    t = time.time()
    plots = {"accuracy": plot_accuracy(metrics, output / "plots" / "accuracy.png"),
             "scatter": plot_scatter(metrics, output / "plots" / "score_vs_oracle.png")}
    shown = draw_examples(records_path, rows, output / "examples", examples)
    times["plots"] = time.time() - t
    aligned = None
    if stage3:
        from unireward.demo_align import GENERATOR, run_stage3

        t = time.time()
        gen = Path(generator) if generator else GENERATOR
        if not (gen / "model_index.json").is_file():
            raise FileNotFoundError(f"no diffusers pipeline at {gen}: pass --generator FOLDER (`unireward train "
                                    "generator` makes one), or --no-stage3")
        aligned = run_stage3(output, the_judge, gen, progress=progress, **(stage3_options or {}))
        times["stage3"] = time.time() - t
        metrics["stage3"] = aligned
    metrics.update(judge=str(judge_path), mode=mode, n_per_task_form=n, seed=seed, difficulty=difficulty,
                   seconds={k: round(v, 1) for k, v in times.items()})
    metrics["seconds"]["total"] = round(sum(times.values()), 1)
    (output / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    report = write_demo_report(output, metrics, plots, shown)
    out = {"report": str(report), "seconds": metrics["seconds"], "pair_acc": metrics["pair_acc"],
           "spearman": metrics["spearman"], "metrics": metrics}
    if aligned:
        out["stage3"] = {k: aligned[k] for k in ("pairs", "before", "after", "change_ci95") if k in aligned}
    return out


def _judge_path(output: Path, train: bool, judge: str | Path | None, progress: bool) -> Path | str:
    if train:
        from unireward.train.small import train_staged

        train_staged(output / "small-judge", output / "train-work")
        return output / "small-judge"
    if judge is not None:
        return judge
    if not (ASSET / "config.json").is_file():
        raise FileNotFoundError(f"the shipped small judge is not at {ASSET} (installed without the repository?): "
                                "pass --judge FOLDER, or --train to train it")
    return ASSET


# ---------------------------------------------------------------------------------------------- metrics
def score(rows: list[dict[str, Any]], records_path: Path) -> dict[str, Any]:
    """Per task: the benchmark metrics of the pairs (`compute_metrics`: tau, diff, intervals, confusion) and
    the Spearman correlation of the pointwise scores with the oracle's."""
    from unireward.bench.metrics import compute_metrics

    oracle = _oracle_scores(rows, records_path)
    out: dict[str, Any] = {"tasks": {}}
    for task in TASKS:
        pair = [r for r in rows if r["task"] == task and r["form"] == "pair"]
        point_rows = [r for r in rows if r["task"] == task and r["form"] == "point"]
        point = [r for r in point_rows if r.get("score") is not None]
        m: dict[str, Any] = {}
        if pair:
            m["pair"] = compute_metrics([{**r, "failed": r.get("error") is not None and r.get("pred") is None}
                                         for r in pair])
            m["margin"] = margin_summary(pair)
        if point_rows:  # an unscored row (unparsed, or refused by the judge) is counted and its first error kept
            judge_s = [r["score"] for r in point]
            oracle_s = [oracle[r["id"]] for r in point]
            m["point"] = {"n": len(point), "n_unscored": len(point_rows) - len(point),
                          "error": next((r["error"] for r in point_rows if r.get("error")), None),
                          "spearman": _spearman(judge_s, oracle_s), "ci95_spearman": _spearman_ci(judge_s, oracle_s),
                          "scale": next((r["scale"] for r in point_rows if r.get("scale")), None),
                          "points": [[o, j] for o, j in zip(oracle_s, judge_s)],
                          "label_agreement": float(np.mean([abs(oracle[r["id"]] - r["label_score"]) < 1e-6
                                                            for r in point])) if point else None}
        out["tasks"][task] = m
    taus = [m["pair"]["tau"] for m in out["tasks"].values() if "pair" in m]
    rhos = [m["point"]["spearman"] for m in out["tasks"].values() if m.get("point", {}).get("spearman") is not None]
    out["pair_acc"] = float(np.mean(taus)) if taus else None
    out["spearman"] = float(np.mean(rhos)) if rhos else None
    return out


def margin_summary(pairs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """How sure the judge is (|margin|, margin = 2 P(A) - 1) on its right and wrong verdicts, and the accuracy
    of the more confident half of the pairs (None when the mode gives no probabilities)."""
    rows = [r for r in pairs if r.get("margin") is not None and r.get("pred") is not None]
    if not rows:
        return None
    size = np.asarray([abs(r["margin"]) for r in rows])
    right = np.asarray([r["pred"] == r["label"] for r in rows])
    top = size >= np.median(size)
    return {"n": len(rows), "mean": float(size.mean()),
            "right": float(size[right].mean()) if right.any() else None,
            "wrong": float(size[~right].mean()) if (~right).any() else None,
            "confident_half_acc": float(right[top].mean()), "other_half_acc": float(right[~top].mean())
            if (~top).any() else None}


def _oracle_scores(rows: list[dict[str, Any]], records_path: Path) -> dict[str, float]:
    """The oracle's score of every pointwise record, read from the media's pixels."""
    from unireward.records import read_records
    from unireward.synth import Oracle

    wanted = {r["id"] for r in rows if r["form"] == "point"}
    records = [r for r in read_records(records_path) if r.id in wanted]
    scores = Oracle().score_batch([r.judge_inputs(records_path.parent) for r in records])
    return {r.id: s.value for r, s in zip(records, scores)}


def _spearman(x: list[float], y: list[float]) -> float | None:
    from unireward.train.evaluate import spearman

    return spearman(x, y)


def _spearman_ci(x: list[float], y: list[float], n_boot: int = 500, seed: int = 0) -> list[float] | None:
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3:
        return None
    rng = np.random.default_rng(seed)
    draws = [_spearman(x[i].tolist(), y[i].tolist()) for i in rng.integers(0, len(x), (n_boot, len(x)))]
    draws = [d for d in draws if d is not None]
    return [float(v) for v in np.percentile(draws, [2.5, 97.5])] if draws else None


# ---------------------------------------------------------------------------------------------- plots
def plot_accuracy(metrics: dict[str, Any], path: Path) -> Path:
    from unireward.bench.report import plot_bars, tau_diff_series

    pairs = {t.replace("_", "\n"): m["pair"] for t, m in metrics["tasks"].items() if "pair" in m}
    return plot_bars(tau_diff_series(pairs), "pairwise accuracy per task (95% CI)", path,
                     {t: m["n"] for t, m in pairs.items()})


def plot_scatter(metrics: dict[str, Any], path: Path) -> Path:
    from unireward.bench.report import pyplot

    plt = pyplot()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.3))
    rng = np.random.default_rng(0)
    for ax, task in zip(axes, TASKS):
        m = metrics["tasks"].get(task, {}).get("point", {})
        pts = np.asarray(m.get("points") or np.zeros((0, 2)), float)
        if len(pts):
            jitter = rng.normal(0, 0.01 * (np.ptp(pts[:, 0]) or 1), len(pts))  # many oracle scores coincide
            ax.scatter(pts[:, 0] + jitter, pts[:, 1], s=14, alpha=0.7, color="#4c72b0")
            lo, hi = m["scale"]
            ax.plot([lo, hi], [lo, hi], ls="--", color="#999999", lw=1)
        rho = m.get("spearman")
        ax.set_title(f"{task.replace('_', ' ')}\nSpearman {'–' if rho is None else f'{rho:.2f}'}", fontsize=9)
        ax.set_xlabel("oracle score")
    axes[0].set_ylabel("judge score")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw_examples(records_path: Path, rows: list[dict[str, Any]], folder: Path, k: int) -> list[dict[str, Any]]:
    """Pictures of the first `k` pairwise records (one task after another) with the judge's verdict."""
    from unireward.records import read_records

    folder.mkdir(parents=True, exist_ok=True)
    by_id = {r["id"]: r for r in rows}
    pairs = [r for r in read_records(records_path) if r.form == Form.PAIR and r.id in by_id]
    picked, shown = _round_robin(pairs, k), []
    for i, rec in enumerate(picked):
        pred = by_id[rec.id]
        path = folder / f"{i:02d}-{rec.task.value}.png"
        _draw_pair(rec, pred, records_path.parent, path)
        shown.append({"id": rec.id, "task": rec.task.value, "prompt": rec.prompt, "label": rec.winner,
                      "pred": pred.get("pred"), "prob_a": pred.get("prob_a"), "text": pred.get("text"),
                      "image": str(path)})
    return shown


def _round_robin(records: list, k: int) -> list:
    by_task: dict[str, list] = {}
    for r in records:
        by_task.setdefault(r.task.value, []).append(r)
    out = []
    for i in range(k):
        for task in TASKS:
            if len(out) < k and i < len(by_task.get(task, [])):
                out.append(by_task[task][i])
    return out


def _frames(media: dict[str, Any], base: Path, n: int = 8) -> list:
    from unireward.media import load_image, load_video
    from unireward.records import media_source

    src = media_source(media, base)
    if "image" in media:
        return [load_image(src)]
    return load_video(src, n)


def _draw_pair(rec, pred: dict[str, Any], base: Path, path: Path) -> None:
    from unireward.bench.report import pyplot

    plt = pyplot()
    gen = rec.task.is_generation
    rows = [_frames(c["media"][0], base) for c in rec.candidates] if gen else [_frames(rec.media[0], base)]
    cols = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(1.3 * cols + 0.5, 1.45 * len(rows) + 1.3), squeeze=False)
    for i, frames in enumerate(rows):
        for j in range(cols):
            ax = axes[i][j]
            ax.axis("off")
            if j < len(frames):
                ax.imshow(frames[j])
        if gen:
            axes[i][0].set_title(f"{'AB'[i]}", loc="left", fontsize=9)
    truth = {"A": "A is better", "B": "B is better", "tie": "tie"}
    prob = pred.get("prob_a")
    verdict = f"judge: {truth.get(pred.get('pred'), 'unreadable')}" + ("" if prob is None else f" (P(A)={prob:.2f})")
    head = f"{rec.task.value.replace('_', ' ')} — \"{rec.prompt}\""
    if not gen:
        head += f"\nA: \"{rec.candidates[0]['text']}\"   B: \"{rec.candidates[1]['text']}\""
    mark = "right" if pred.get("pred") == rec.winner else "wrong"
    fig.suptitle(f"{head}\n{verdict}; truth: {truth[rec.winner]} ({mark})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------- report
def _margin_lines(tasks: dict[str, Any]) -> list[str]:
    """The margins table (modes with probabilities only)."""
    rows = [(t, m["margin"]) for t, m in tasks.items() if m.get("margin")]
    if not rows:
        return []

    def f(x: float | None) -> str:
        return "–" if x is None else f"{x:.2f}"

    lines = ["## Margins", "", "| task | n | mean margin | on right verdicts | on wrong verdicts | accuracy, "
             "confident half | accuracy, other half |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {t} | {m['n']} | {f(m['mean'])} | {f(m['right'])} | {f(m['wrong'])} | "
              f"{f(m['confident_half_acc'])} | {f(m['other_half_acc'])} |" for t, m in rows]
    return lines + ["", "margin = |2 P(A) - 1|, from the verdict's options read in one forward pass after the "
                        "judge's reasoning; a calibrated judge is surer when it is right.", ""]


def write_demo_report(output: Path, metrics: dict[str, Any], plots: dict[str, Path],
                      shown: list[dict[str, Any]]) -> Path:
    from unireward.bench.report import ci_text, pair_table

    tasks = metrics["tasks"]
    lines = ["# unireward demo: the small judge on the synthetic world", "",
             f"Judge `{metrics['judge']}` ({metrics['mode']} mode) on {metrics['n_per_task_form']} held-out test "
             f"records per task and form (seed {metrics['seed']}, difficulty {metrics['difficulty']}); labels are "
             "exact, and the pointwise reference "
             "is the oracle re-reading every image and video from its pixels.", "",
             "## Pairwise accuracy", "", *pair_table("task", {t: m["pair"] for t, m in tasks.items() if "pair" in m}),
             "", "tau counts every pair (a tie is right only when the judge says tie); diff leaves out the tied "
             "pairs; an unparsed answer is wrong in both. Intervals: percentile bootstrap, 1,000 resamples.", "",
             f"![accuracy]({plots['accuracy'].relative_to(output)})", "", *_margin_lines(tasks),
             "## Pointwise scores vs the oracle", "",
             "| task | n | Spearman [95% CI] | scale | unscored |", "|---|---|---|---|---|"]
    notes = []
    for task, m in tasks.items():
        if "point" in m:
            p = m["point"]
            rho = "–" if p["spearman"] is None else f"{p['spearman']:.3f}"
            scale = "–" if not p["scale"] else f"{p['scale'][0]:g}–{p['scale'][1]:g}"
            lines.append(f"| {task} | {p['n']} | {rho} {ci_text(p['ci95_spearman'], percent=False)} | {scale} | "
                         f"{p['n_unscored']} |")
            if p["error"]:
                notes.append(f"- {task}: {p['error']}")
    if notes:
        lines += ["", "Why records were not scored (the first error per task):", "", *notes]
    how = {"logprob": "the expected value of the score under its next-token distribution after `Final Score: `",
           "reason-logprob": "the expected value of the score under its next-token distribution where the score "
                             "starts, after the judge has written its description"}.get(
        metrics["mode"], "the number it writes after `Final Score:`")
    lines += ["", f"The judge's score is {how} ({metrics['mode']} mode).", "",
              f"![scores]({plots['scatter'].relative_to(output)})", "", "## Examples", ""]
    for ex in shown:
        rel = Path(ex["image"]).relative_to(output)
        lines += [f"**{ex['task']}** — {ex['prompt']!r}: judge {ex['pred']}, truth {ex['label']}", "",
                  f"![{ex['id']}]({rel})", ""]
        if ex.get("text"):
            lines += ["The judge's answer:", "", "```", ex["text"].strip(), "```", ""]
    if metrics.get("stage3"):
        from unireward.demo_align import report_lines

        lines += report_lines(output, metrics["stage3"])
    sec = metrics["seconds"]
    lines += ["## Run", "", "Seconds: " + ", ".join(f"{k} {v}" for k, v in sec.items()) + ".",
              "Metrics: `metrics.json`; one prediction per record: `predictions.jsonl`.", ""]
    path = output / "report.md"
    path.write_text("\n".join(lines))
    return path
