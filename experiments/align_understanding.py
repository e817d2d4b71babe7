"""Does DPO on judge-constructed pairs make an answerer better? Issue 11's proof, on the synthetic world.

For image and for video understanding: questions from the synth world (train split for pairs, test split
held out), an answerer VLM (any `vlm:` folder), 10 sampled answers per training question (temperature 0.7,
upstream), preference pairs built by `unireward construct` with two signals — the exact oracle and a judge
(e.g. the small synthetic-world judge) — and each of the four strategies (pair-point, point-only, pair-only,
random), then DPO of the answerer on every pair set with the same budget (the same config, so the same number
of optimizer steps), and the oracle accuracy of its greedy answers on the held-out questions. A second round
(construct with the round-1 model of the judge/pair-point cell, DPO again) is run once.

    .venv/bin/python experiments/align_understanding.py --answerer assets/small-answerer \\
        --judge assets/small-judge --out runs/align-understanding --config my-dpo.yaml \\
        --train-questions 300 --test-questions 200 --seeds 0 1 2

Design choices:
- Accuracy = the fraction of held-out questions whose greedy answer the oracle grades fully right
  (`unireward.synth.semantics.grade` = 1). Intervals are 95% percentile bootstrap intervals over questions
  (2000 resamples); a gain's interval is a *paired* bootstrap (same resampled questions for the baseline and
  the aligned model).
- All strategies of one signal share one construct store: they see the same 10 samples per question and the
  same judge answers, so they differ only in how they pick the pair (as `experiments/construct_strategies.py`).
  ``--stores DIR`` puts both signals in one store per task and seed (the oracle's and the judge's cells then
  share the samples too), and lets a run into another ``--out`` reuse an earlier run's samples and judgments.
- ``--config`` is a `VLMDPOConfig` file (e.g. CPU settings, a fixed ``max_steps``); every cell uses it unchanged.
  Cells with no kept pairs are reported, not trained.
- ``--min-margin M`` / ``--min-gap G`` / ``--min-reasoning-prob R`` add the confidence filters of
  `unireward.construct.sift.SiftConfig` to the judge signal's cells (the oracle is never unsure): a verdict
  counts only when |2 P(A) - 1| >= M (needs ``--judge-mode logprob`` or ``reason-logprob``), a pair only when
  the chosen score is more than G above the rejected one, a verdict or score only when every token of the
  judge's reasoning had probability >= R (``reason-logprob``); ``--min-chosen-score S`` keeps a pair only when
  the chosen answer's score reaches S of the judge's scale. The cells are named ``judge / STRATEGY (margin
  >= M, gap > G[, reasoning >= R][, chosen score >= S])`` and reuse the judge's store, so the only new judge
  calls are the swapped re-judging of unsure pairs (and, with R, answers cached before judges reported the
  reasoning's probability). ``--signals judge`` skips the oracle cells (already measured on the same
  questions). A rerun into the same ``--out`` adds its cells to ``results.json`` (a cell measured again
  replaces its row).
- ``--pool-seeds 0 1 2`` trains every cell on the pairs of those seeds' training questions together (each
  constructed with its own seed and store, as in its own run, so an earlier run's samples and judgments are
  reused); each of ``--seeds`` still seeds the DPO and tests on its own held-out questions (the test split's
  scenes are disjoint from every seed's training split). Cells are named ``..., questions of seeds 0+1+2``.
- ``--judge oracle`` makes the judge signal the oracle too (a cheap smoke run); the judge is otherwise loaded
  with `unireward.load_judge`.

- Every DPO cell also reports its pairs' quality: how often the oracle grades the chosen and the rejected answer
  fully right. What a cell gains follows that number closely (docs/align.md), so it is the first thing to look
  at when a signal does not help.
- Every cell also keeps its held-out results per question kind (``test_by_kind``: questions, right before,
  right after) and question by question (``correct``, a 0/1 string), so two cells of one seed can be compared
  pairwise later without generating again.
- ``--balance-answers`` trains every cell on its pairs answer-balanced (`unireward.construct.balance`: two answers
  preferred both ways across questions are kept as often one way as the other; the rows it drops are written
  to the cell's ``unbalanced.jsonl``). Cells are named ``..., answers balanced``. Measured on video (docs/align.md):
  it did not stop the speed loss it was built for and cost 4-8 points, so it is off by default.
- ``--judge`` is needed only with the judge signal: an oracle-only run (``--signals oracle``) loads no judge.

Prints the result table as JSON and writes ``results.json``, ``results.md``, ``gains.png`` (gain against the
share of right chosen answers, per task), ``cells.png`` (every cell's per-seed gains and its mean with the
t-interval over seeds) and ``kinds.png`` (every cell's change by question kind, pooled over its seeds) in
``--out``. Seeds run as separate jobs (one core each) are combined afterwards with ``--merge RUN_DIR ...``: their
rows are read back, checked for conflicts, and written as one table and plots. ``RUN_DIR=TAG`` tags a run's DPO
cells (", TAG"), so the same cell trained with two configs is compared, not refused as a conflict.

    .venv/bin/python experiments/align_understanding.py --merge runs/au-s0 runs/au-s1 runs/au-s2 --out runs/au
    .venv/bin/python experiments/align_understanding.py --merge runs/a-s0="900 steps" runs/b-s0="1,800 steps" ...
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np


STRATEGIES = ("pair-point", "point-only", "pair-only", "random")
TASKS = ("image_understanding", "video_understanding")


def write_questions(out: Path, task: str, split: str, n: int, seed: int) -> Path:
    """`n` questions of `task` from a synth split, rendered: a construct prompts file (id, prompt, image/video)."""
    from unireward.synth import make_sample, write_sample
    from unireward.tasks import Form

    folder = out / "questions" / task / split
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        rec = write_sample(make_sample(task, Form.POINT, split, i, seed=seed), folder, f"{split}-{i}", f"m/{i}")
        media = rec.media[0]
        rows.append({"id": f"{split}-{i}", "prompt": rec.prompt, **media})
    path = folder / "prompts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def pool_pairs(parts: dict[int, tuple[Path, Path]], out: Path, balance_seed: int | None = None
               ) -> tuple[Path, Path]:
    """One pair set (and its prompts file) from several seeds' sets: ids become ``sSEED/ID`` (each seed numbers its
    questions from 0), media are hard-linked into ``out/media`` (content-hashed names, so two seeds never clash),
    and the prompts point at each seed's rendered questions. With `balance_seed`, the pooled set is answer-balanced
    (`unireward.construct.balance`) and the rows it drops go to ``out/unbalanced.jsonl``."""
    from unireward.construct.balance import balance_answers

    pairs, prompts = [], []
    for seed, (folder, questions) in parts.items():
        for row in map(json.loads, (folder / "pairs.jsonl").read_text().splitlines()):
            for key in ("images", "videos"):
                for rel in row.get(key) or []:
                    target = out / rel
                    if not target.exists():
                        target.parent.mkdir(parents=True, exist_ok=True)
                        os.link(folder / rel, target)
            pairs.append({**row, "id": f"s{seed}/{row['id']}"})
        for q in map(json.loads, questions.read_text().splitlines()):
            media = {k: os.path.relpath(questions.parent / q[k], out) for k in ("image", "video") if k in q}
            prompts.append({**q, **media, "id": f"s{seed}/{q['id']}"})
    files = {"pairs.jsonl": pairs, "prompts.jsonl": prompts}
    if balance_seed is not None:
        files["pairs.jsonl"], files["unbalanced.jsonl"] = balance_answers(pairs, seed=balance_seed)
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in files.items():
        (out / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out, out / "prompts.jsonl"


def greedy_correct(model: str, prompts: Path, oracle: Any, max_new_tokens: int, video_as: str = "video"
                   ) -> np.ndarray:
    """1/0 per held-out question: is the model's greedy answer fully right?"""
    from unireward.construct.generators import load_generator
    from unireward.construct.items import PromptItem
    from unireward.synth import parse_question
    from unireward.synth.semantics import grade

    rows = [json.loads(line) for line in prompts.read_text().splitlines()]
    task = "image_understanding" if "image" in rows[0] else "video_understanding"
    gen = load_generator(f"vlm:{model}?temperature=0&max_new_tokens={max_new_tokens}&video_as={video_as}", task)
    out = []
    for i, r in enumerate(rows):
        media = str(prompts.parent / (r.get("image") or r["video"]))
        answer = gen.generate(PromptItem(r["id"], r["prompt"], i, media), 1, seed=i, media_dir=prompts.parent)[0].text
        truth = oracle.answer(r["prompt"], media)
        out.append(float(grade(parse_question(r["prompt"]).kind, truth, answer or "") == 1.0))
    return np.array(out)


def pair_quality(pairs: Path, prompts: Path, oracle: Any) -> dict[str, float]:
    """How often the oracle grades a pair set's chosen and its rejected answer fully right: what the signal gave
    DPO to learn from (the oracle's own pairs are not 100% right where no sample of a question was), and per
    question kind the pairs, how many put a right answer over a wrong one and how many the reverse."""
    from unireward.synth import parse_question
    from unireward.synth.semantics import grade

    questions = {q["id"]: q for q in map(json.loads, prompts.read_text().splitlines())}
    right: dict[str, list[float]] = {"chosen": [], "rejected": []}
    by_kind: dict[str, list[int]] = {}  # question kind -> [pairs, right over wrong, wrong over right]
    for row in map(json.loads, (pairs / "pairs.jsonl").read_text().splitlines()):
        q = questions[row["id"]]
        kind = parse_question(q["prompt"]).kind
        truth = oracle.answer(q["prompt"], str(prompts.parent / (q.get("image") or q["video"])))
        for side in right:
            right[side].append(float(grade(kind, truth, row[side][0]["content"][0]["text"]) == 1))
        tally = by_kind.setdefault(kind, [0, 0, 0])
        tally[0] += 1
        tally[1] += right["chosen"][-1] > right["rejected"][-1]
        tally[2] += right["chosen"][-1] < right["rejected"][-1]
    return {**{f"{side}_right": round(float(np.mean(v)), 4) for side, v in right.items()},
            "by_kind": dict(sorted(by_kind.items()))}


def bootstrap(correct: np.ndarray, base: np.ndarray | None = None, n: int = 2000, seed: int = 0) -> list[float]:
    """95% percentile interval of the accuracy (or, with `base`, of the paired accuracy gain)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(correct), (n, len(correct)))
    stats = correct[idx].mean(1) - (base[idx].mean(1) if base is not None else 0.0)
    return [round(float(x), 4) for x in np.percentile(stats, [2.5, 97.5])]


def cell(name: str, correct: np.ndarray, base: np.ndarray, extra: dict[str, Any],
         kinds: list[str] | None = None) -> dict[str, Any]:
    """One table row. With the test questions' kinds it also keeps, per kind, [questions, right before, right
    after], and every question's result as a 0/1 string, so two cells can later be compared question by question
    (a paired interval between two DPO runs) without generating again."""
    row = {"cell": name, "accuracy": round(float(correct.mean()), 4), "ci": bootstrap(correct),
           "gain": round(float(correct.mean() - base.mean()), 4), "gain_ci": bootstrap(correct, base), **extra}
    if kinds is not None:
        tally: dict[str, list[int]] = {}
        for kind, before, after in zip(kinds, base, correct, strict=True):
            t = tally.setdefault(kind, [0, 0, 0])
            t[0], t[1], t[2] = t[0] + 1, t[1] + int(before), t[2] + int(after)
        row["test_by_kind"] = dict(sorted(tally.items()))
        row["correct"] = "".join(str(int(x)) for x in correct)
    return row


def question_kinds(prompts: Path) -> list[str]:
    from unireward.synth import parse_question

    return [parse_question(json.loads(line)["prompt"]).kind for line in prompts.read_text().splitlines()]


def run_task(args: argparse.Namespace, task: str, seed: int, judges: dict[str, Any], oracle: Any) -> list[dict]:
    from unireward.align.vlm import align_vlm
    from unireward.align.vlm_config import load_vlm_config
    from unireward.construct.run import construct
    from unireward.construct.sift import SiftConfig

    root = args.out / f"{task}-seed{seed}"
    train_seeds = args.pool_seeds or [seed]
    train_qs = {s: write_questions(args.out / f"{task}-seed{s}", task, "train", args.train_questions, s)
                for s in train_seeds}
    test_q = write_questions(root, task, "test", args.test_questions, seed)
    base = greedy_correct(args.answerer, test_q, oracle, args.max_new_tokens, args.video_as)
    kinds = question_kinds(test_q)
    rows = [cell("answerer (no DPO)", base, base, {"task": task, "seed": seed}, kinds)]
    spec = (f"?temperature={args.temperature}&max_new_tokens={args.max_new_tokens}&num_frames=8"
            f"&video_as={args.video_as}")

    def dpo_cell(signal: str, strategy: str, model: str, pairs: Path, out: Path, name: str,
                 train_q: Path) -> dict[str, Any]:
        kept = sum(1 for _ in open(pairs / "pairs.jsonl")) if (pairs / "pairs.jsonl").is_file() else 0
        extra = {"task": task, "seed": seed, "signal": signal, "strategy": strategy, "pairs": kept}
        if kept == 0:
            return {"cell": name, "accuracy": None, "note": "no pairs kept", **extra}
        extra.update(pair_quality(pairs, train_q, oracle))
        config = load_vlm_config(args.config, seed=seed, output_dir=str(out))
        summary = align_vlm(pairs, model, out, config)
        correct = greedy_correct(str(out), test_q, oracle, args.max_new_tokens, args.video_as)
        return cell(name, correct, base, {**extra, "steps": summary["steps"], "train_loss": summary["train_loss"]},
                    kinds)

    filters = SiftConfig(min_margin=args.min_margin, min_gap=args.min_gap,
                         min_reasoning_prob=args.min_reasoning_prob,
                         min_chosen_score=args.min_chosen_score).filters()  # validated, only those on
    tag = "".join(f"-{k.split('_')[1]}{v:g}" for k, v in filters.items())
    sure = f", reasoning >= {args.min_reasoning_prob:g}" if args.min_reasoning_prob else ""
    sure += f", chosen score >= {args.min_chosen_score:g}" if args.min_chosen_score else ""
    label = f" (margin >= {args.min_margin:g}, gap > {args.min_gap:g}{sure})" if filters else ""
    pool = f"-pool{'-'.join(map(str, train_seeds))}" if args.pool_seeds else ""
    pooled = f", questions of seeds {'+'.join(map(str, train_seeds))}" if args.pool_seeds else ""
    if args.balance_answers:
        pool, pooled = f"{pool}-balanced", f"{pooled}, answers balanced"
    for signal in args.signals:
        judge = judges[signal]
        for strategy in args.strategies:
            used = filters if signal == "judge" and strategy != "random" else {}
            name = f"{strategy}{tag}" if used else strategy
            parts = {}
            for s, train_q in train_qs.items():  # each seed's questions with its own store and sampling seed
                s_root = args.out / f"{task}-seed{s}"
                store = args.stores / f"{task}-seed{s}" if args.stores else s_root / "stores" / signal
                parts[s] = (s_root / "pairs" / signal / name, train_q)
                construct(task, train_q, f"vlm:{args.answerer}{spec}", judge, parts[s][0], n=args.n,
                          strategy=strategy, seed=s, progress=False, store_path=store, **used)
            pairs, train_q = (pool_pairs(parts, root / "pairs" / signal / f"{name}{pool}",
                                         balance_seed=seed if args.balance_answers else None)
                              if pool else parts[seed])
            cell_name = f"{signal} / {strategy}{label if used else ''}{pooled}"
            rows.append({**dpo_cell(signal, strategy, args.answerer, pairs,
                                    root / "models" / signal / f"{name}{pool}", cell_name, train_q), **used})
    # round 2 starts from this run's judge / pair-point model and sifts with the same filters (its own store);
    # by default it trains on both rounds' pairs: on round-2 pairs alone the model forgets the question kinds it
    # no longer disagrees with itself on (docs/align.md, "Second round")
    first = root / "models" / "judge" / f"pair-point{tag}"
    if args.second_round and "judge" in judges and (first / "model.safetensors").is_file():
        pairs2 = root / "pairs" / "judge" / f"pair-point{tag}-round2"
        store2 = args.stores / f"{task}-seed{seed}-round2" if args.stores else root / "stores" / "judge-round2"
        construct(task, train_qs[seed], f"vlm:{first}{spec}", judges["judge"], pairs2, n=args.n, strategy="pair-point",
                  seed=seed + 1000, progress=False, store_path=store2, **filters)
        suffix, both, prompts2 = "", "", train_qs[seed]
        if args.round2_data == "both":  # ids become s1/ID and s2/ID (the round, here), prompts pooled alike
            suffix, both = "-both", " on both rounds' pairs"
            parts = {1: (root / "pairs" / "judge" / f"pair-point{tag}", train_qs[seed]), 2: (pairs2, train_qs[seed])}
            pairs2, prompts2 = pool_pairs(parts, root / "pairs" / "judge" / f"pair-point{tag}-rounds1-2")
        rows.append({**dpo_cell("judge", "pair-point", str(first), pairs2,
                                root / "models" / "judge" / f"round2{tag}{suffix}",
                                f"judge / pair-point{label}, round 2{both}", prompts2), **filters})
    return rows


T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262)  # Student t, 97.5%, df 1..9


def pooled_bootstrap(pairs: list[tuple[np.ndarray, np.ndarray]], n: int = 2000, seed: int = 0) -> list[float]:
    """95% interval of the gain pooled over seeds' test questions: each seed's (after, before) 0/1 arrays
    resampled within that seed (paired), the gain averaged over all questions. It holds the question noise
    only; the t-interval over seeds also holds the DPO run's own noise."""
    rng = np.random.default_rng(seed)
    total = sum(len(after) for after, _ in pairs)
    stats = np.zeros(n)
    for after, before in pairs:
        idx = rng.integers(0, len(after), (n, len(after)))
        stats += (after[idx] - before[idx]).sum(1) / total
    return [round(float(x), 4) for x in np.percentile(stats, [2.5, 97.5])]


def as_array(bits: str) -> np.ndarray:
    return np.array([int(b) for b in bits], dtype=float)


def across_seeds(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per task and cell with two or more seeds: the mean gain and its 95% t-interval over seeds (each seed has
    its own questions and DPO seed, so this interval holds both the question and the training noise), and, where
    every seed kept its per-question results, the pooled paired bootstrap over questions (`pooled_ci`)."""
    base = {(r["task"], r["seed"]): r.get("correct") for r in rows if "signal" not in r}
    cells: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        if r.get("gain") is not None and "signal" in r:
            cells.setdefault((r["task"], r["cell"]), []).append(r)
    out = []
    for (task, name), runs in cells.items():
        g = [r["gain"] for r in runs]
        if len(g) > 1:
            half = T975[min(len(g), len(T975)) - 2] * float(np.std(g, ddof=1)) / len(g) ** 0.5
            mean = float(np.mean(g))
            summary = {"task": task, "cell": name, "seeds": len(g), "mean_gain": round(mean, 4),
                       "ci": [round(mean - half, 4), round(mean + half, 4)], "gains": g}
            before = [base.get((task, r["seed"])) for r in runs]
            if all(r.get("correct") for r in runs) and all(before):
                summary["pooled_ci"] = pooled_bootstrap([(as_array(r["correct"]), as_array(b))
                                                         for r, b in zip(runs, before)])
            out.append(summary)
    return out


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| task | seed | cell | pairs | chosen / rejected right | accuracy [95% CI] | gain [95% CI] |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        acc = "—" if r.get("accuracy") is None else f"{r['accuracy']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]"
        gain = "—" if r.get("gain") is None else f"{r['gain']:+.3f} [{r['gain_ci'][0]:+.3f}, {r['gain_ci'][1]:+.3f}]"
        quality = f"{r['chosen_right']:.2f} / {r['rejected_right']:.2f}" if "chosen_right" in r else ""
        lines.append(f"| {r['task']} | {r['seed']} | {r['cell']} | {r.get('pairs', '')} | {quality} | {acc} | {gain} "
                     "|")
    summary = across_seeds(rows)
    if summary:
        lines += ["", "| task | cell | seeds | mean gain [95% t-interval over seeds] | pooled over questions [95% "
                  "paired bootstrap] | per seed |", "|---|---|---|---|---|---|"]
        lines += [f"| {a['task']} | {a['cell']} | {a['seeds']} | {a['mean_gain']:+.3f} [{a['ci'][0]:+.3f}, "
                  f"{a['ci'][1]:+.3f}] | {pooled(a)} | {', '.join(f'{g:+.3f}' for g in a['gains'])} |"
                  for a in summary]
    return "\n".join(lines) + "\n"


def pooled(summary: dict[str, Any]) -> str:
    lo_hi = summary.get("pooled_ci")
    return f"[{lo_hi[0]:+.3f}, {lo_hi[1]:+.3f}]" if lo_hi else "—"


def plot(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Gain in held-out accuracy (points, 95% CI) against how often the pair set's chosen answer is right, one
    panel per task: where each signal x strategy cell lands, and what the pairs gave it to learn from."""
    from unireward.bench.report import pyplot

    plt = pyplot()
    tasks = list(dict.fromkeys(r["task"] for r in rows if "chosen_right" in r))
    if not tasks:  # no cell kept a pair: nothing to place
        return None
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.2 * len(tasks), 4.0), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for r in (r for r in rows if r["task"] == task and "chosen_right" in r and r.get("gain") is not None):
            g, (lo, hi) = 100 * r["gain"], (100 * x for x in r["gain_ci"])
            color = "#2b6cb0" if r["signal"] == "oracle" else "#dd6b20"
            round2 = "round 2" in r["cell"]
            ax.errorbar(r["chosen_right"], g, yerr=[[g - lo], [hi - g]], fmt="s" if round2 else "o", color=color,
                        capsize=3)
            label = f"{r['strategy']}{' round 2' if round2 else ''} s{r['seed']}"
            ax.annotate(label, (r["chosen_right"], g), fontsize=7, xytext=(4, 2),
                        textcoords="offset points")
        ax.axhline(0, color="#888888", lw=0.8)
        ax.set_xlabel("pairs whose chosen answer is right (oracle)")
        ax.set_ylabel("gain in held-out accuracy (points)")
        ax.set_title(f"{task}: blue oracle pairs, orange judge pairs", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def tick_label(cell: str) -> str:
    """A cell name as a short multi-line tick: the filters that are at their defaults (margin >= 0, gap > 0)
    left out, one filter per line."""
    name, _, rest = cell.partition(" (")
    filters, _, after = rest.partition(")")
    kept = [f for f in filters.split(", ") + after.split(", ") if f and f not in ("margin >= 0", "gap > 0")]
    return "\n".join([*name.split(" / "), *kept])


def plot_cells(rows: list[dict[str, Any]], path: Path) -> Path:
    """Per task, every DPO cell's gain: one dot per seed, and the mean with its 95% t-interval over seeds (a
    black bar) where there are two or more; the dashed line is issue 11's +10-point target."""
    from unireward.bench.report import pyplot

    plt = pyplot()
    summary = {(a["task"], a["cell"]): a for a in across_seeds(rows)}
    tasks = list(dict.fromkeys(r["task"] for r in rows if "signal" in r))
    fig, axes = plt.subplots(len(tasks), 1, figsize=(8.5, 3.6 * len(tasks)), squeeze=False)
    for ax, task in zip(axes[:, 0], tasks):
        first = {r["cell"]: r for r in rows if r["task"] == task and "signal" in r}
        cells = sorted(first, key=lambda c: (first[c]["signal"] != "oracle", "round 2" in c,
                                             STRATEGIES.index(first[c]["strategy"])))
        for i, name in enumerate(cells):
            gains = [100 * r["gain"] for r in rows if r["task"] == task and r["cell"] == name
                     and r.get("gain") is not None]
            color = "#2b6cb0" if first[name]["signal"] == "oracle" else "#dd6b20"
            ax.scatter([i + 0.12] * len(gains), gains, color=color, s=14, alpha=0.7)
            if (task, name) in summary:
                a = summary[(task, name)]
                m, (lo, hi) = 100 * a["mean_gain"], (100 * x for x in a["ci"])
                ax.errorbar(i - 0.12, m, yerr=[[m - lo], [hi - m]], fmt="o", color="black", capsize=3)
                ax.annotate(f"{m:+.1f} ({a['seeds']} seeds)", (i - 0.12, hi), fontsize=7, ha="center",
                            xytext=(0, 3), textcoords="offset points")
        ax.axhline(0, color="#888888", lw=0.8)
        ax.axhline(10, color="#c53030", lw=0.8, ls="--")
        ax.set_xticks(range(len(cells)), [tick_label(c) for c in cells], fontsize=7)
        ax.set_ylabel("gain in held-out accuracy (points)")
        ax.set_title(f"{task}: dots = seeds (blue oracle, orange judge), black = mean and 95% t-interval",
                     fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def kind_changes(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, list[int]]]]:
    """Per task, DPO cell and question kind: [questions, right before, right after], summed over the seeds the
    cell was run on (each seed's before is its own answerer on its own test questions, so the change is paired)."""
    out: dict[str, dict[str, dict[str, list[int]]]] = {}
    for r in rows:
        if "signal" not in r or not r.get("test_by_kind"):
            continue
        per_kind = out.setdefault(r["task"], {}).setdefault(r["cell"], {})
        for kind, counts in r["test_by_kind"].items():
            per_kind[kind] = [a + b for a, b in zip(per_kind.get(kind, [0, 0, 0]), counts)]
    return out


def plot_kinds(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Per task, every cell's change in held-out accuracy by question kind (points, pooled over its seeds): where a
    gain comes from and what a cell loses (e.g. video speed questions, docs/align.md). None without per-kind rows."""
    from unireward.bench.report import pyplot

    changes = kind_changes(rows)
    if not changes:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(len(changes), 1, figsize=(9, 3.4 * len(changes)), squeeze=False)
    for ax, (task, cells) in zip(axes[:, 0], changes.items()):
        kinds = sorted({k for per_kind in cells.values() for k in per_kind})
        width = 0.8 / len(cells)
        for j, (name, per_kind) in enumerate(cells.items()):
            delta = [100 * (per_kind[k][2] - per_kind[k][1]) / per_kind[k][0] if k in per_kind else 0 for k in kinds]
            ax.bar([i + (j - (len(cells) - 1) / 2) * width for i in range(len(kinds))], delta, width,
                   label=tick_label(name).replace("\n", ", "))
        ax.axhline(0, color="#888888", lw=0.8)
        ax.set_xticks(range(len(kinds)), [k.replace("_", "\n") for k in kinds], fontsize=7)
        ax.set_ylabel("change in accuracy (points)")
        ax.set_title(f"{task}: held-out accuracy by question kind, after minus before DPO", fontsize=9)
        ax.legend(fontsize=6, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def merge(runs: list[Path | str]) -> list[dict[str, Any]]:
    """The rows of several runs' ``results.json`` as one table (e.g. seeds run as separate jobs). A (task, seed,
    cell) found in two runs must agree (the same questions and DPO seed give the same numbers); a disagreement
    is an error naming both runs, never a silent pick.

    ``RUN_DIR=TAG`` appends ", TAG" to that run's DPO cell names: cells named alike but trained differently (a
    config's step budget is not in the name) then sit side by side instead of conflicting. The untagged
    ``answerer (no DPO)`` row must still agree between runs of one seed."""
    seen: dict[tuple[str, int, str], tuple[str, dict[str, Any]]] = {}
    for entry in runs:
        run, _, tag = str(entry).partition("=")
        path = Path(run) / "results.json"
        if not path.is_file():
            raise FileNotFoundError(f"--merge: {path} does not exist (run the experiment with --out {run} first)")
        for r in json.loads(path.read_text()):
            if tag and "signal" in r:
                r["cell"] = f"{r['cell']}, {tag}"
            key = (r["task"], r["seed"], r["cell"])
            if key in seen and (seen[key][1].get("accuracy"), seen[key][1].get("gain")) != (r.get("accuracy"),
                                                                                            r.get("gain")):
                raise ValueError(f"--merge: {key} differs between {seen[key][0]} and {run} "
                                 f"(accuracy {seen[key][1].get('accuracy')} vs {r.get('accuracy')})")
            seen.setdefault(key, (run, r))
    return sorted((r for _, r in seen.values()), key=lambda r: (r["task"], r["seed"], "signal" in r))


def combine(previous: list[dict[str, Any]], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A rerun into the same --out (e.g. new cells on the same stores) adds its rows to the earlier ones; a cell
    measured again (same task, seed and name) takes the new row, in the old row's place."""
    keyed = {(r["task"], r["seed"], r["cell"]): r for r in previous}
    keyed.update({(r["task"], r["seed"], r["cell"]): r for r in rows})
    return list(keyed.values())


def write_results(rows: list[dict[str, Any]], out: Path) -> None:
    (out / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    (out / "results.md").write_text(markdown(rows))
    plot(rows, out / "gains.png")
    plot_cells(rows, out / "cells.png")
    plot_kinds(rows, out / "kinds.png")


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--answerer", help="The VLM to align (a folder, any `vlm:` generator target).")
    p.add_argument("--judge", help="The judge signal: a judge folder or preset, or 'oracle'.")
    p.add_argument("--merge", nargs="+", metavar="RUN_DIR[=TAG]",
                   help="Train nothing: combine these runs' results.json into --out (table, across-seed "
                        "intervals, plots). =TAG appends ', TAG' to a run's DPO cell names (e.g. its step budget).")
    p.add_argument("--judge-mode", choices=("generate", "logprob", "reason-logprob"),
                   help="Judge decoding mode (default: its own).")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--config", help="VLMDPOConfig YAML used for every DPO cell (same budget for all).")
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    p.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES,
                   help="Construction strategies to run (all four by default; fewer for a cheaper replicate).")
    p.add_argument("--train-questions", type=int, default=300)
    p.add_argument("--test-questions", type=int, default=200)
    p.add_argument("--n", type=int, default=10, help="Answers sampled per training question (upstream 10).")
    p.add_argument("--temperature", type=float, default=0.7, help="Sampling temperature (upstream 0.7).")
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--video-as", choices=("video", "frames"),
                   help="How the answerer sees a video when sampled and tested (default: the DPO config's "
                        "video_as, so sampling, training and testing see the same input; frames for "
                        "assets/small-answerer). A value that differs from the config's is refused.")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--signals", nargs="+", default=["oracle", "judge"], choices=("oracle", "judge"),
                   help="Pair signals to run (both by default).")
    p.add_argument("--min-margin", type=float, default=0.0,
                   help="Judge cells: count a verdict only when |2 P(A) - 1| >= this (logprob modes).")
    p.add_argument("--min-gap", type=float, default=0.0,
                   help="Judge cells: keep a pair only when the chosen score is more than this above the rejected.")
    p.add_argument("--min-reasoning-prob", type=float, default=0.0,
                   help="Judge cells: count a verdict or score only when every token of the judge's reasoning had "
                        "at least this probability (reason-logprob mode).")
    p.add_argument("--min-chosen-score", type=float, default=0.0,
                   help="Judge cells: keep a pair only when the chosen answer's score reaches this share of the "
                        "judge's scale (0-1).")
    p.add_argument("--stores", type=Path, metavar="DIR",
                   help="Keep samples and judgments in DIR/TASK-seedS, one store for both signals (default: "
                        "OUT/TASK-seedS/stores/SIGNAL). Another run's DIR reuses its samples and judgments.")
    p.add_argument("--pool-seeds", type=int, nargs="+", metavar="S",
                   help="Train every DPO cell on the pairs of these seeds' training questions together (each seed's "
                        "questions, samples and store as in its own run); each of --seeds still seeds the DPO and "
                        "tests on its own held-out questions. More questions without sampling or judging again.")
    p.add_argument("--balance-answers", action="store_true",
                   help="Answer-balance every cell's pairs before DPO (unireward.construct.balance).")
    p.add_argument("--no-second-round", dest="second_round", action="store_false")
    p.add_argument("--round2-data", choices=("both", "new"), default="both",
                   help="Round 2 trains on both rounds' pairs (default) or on the round-2 pairs alone (forgets the "
                        "kinds the round-1 model answers the same way every time; docs/align.md).")
    args = p.parse_args(argv)
    if args.pool_seeds and args.second_round:
        p.error("--pool-seeds needs --no-second-round (round 2 samples one seed's questions)")
    if args.merge:
        rows = merge(args.merge)
        args.out.mkdir(parents=True, exist_ok=True)
        write_results(rows, args.out)
        print(markdown(rows))
        return rows
    if not args.answerer:
        p.error("--answerer is required (unless --merge)")
    if "judge" in args.signals and not args.judge:
        p.error("--judge is required for --signals judge (an oracle-only run needs none)")
    from unireward.align.vlm_config import load_vlm_config

    trains_on = load_vlm_config(args.config).video_as
    if args.video_as and args.video_as != trains_on:
        # a silent mismatch once sampled and tested on native video while DPO trained on frames (docs/align.md)
        p.error(f"--video-as {args.video_as} but the DPO config ({args.config or 'default'}) trains with video_as "
                f"{trains_on}: the answerer would be sampled and tested on one input and trained on another")
    args.video_as = args.video_as or trains_on
    args.out.mkdir(parents=True, exist_ok=True)

    import unireward as ur
    from unireward.synth import Oracle

    oracle = Oracle()
    mode = {"mode": args.judge_mode} if args.judge_mode else {}
    judges: dict[str, Any] = {"oracle": oracle}
    if "judge" in args.signals:  # an oracle-only run loads no judge
        judges["judge"] = oracle if args.judge == "oracle" else ur.load_judge(args.judge, **mode)
    results = args.out / "results.json"
    previous = json.loads(results.read_text()) if results.is_file() else []
    start, rows = time.time(), []
    for seed in args.seeds:
        for task in args.tasks:
            rows += run_task(args, task, seed, judges, oracle)
            results.write_text(json.dumps(combine(previous, rows), indent=2) + "\n")
    write_results(combine(previous, rows), args.out)
    print(json.dumps({"seconds": round(time.time() - start, 1), "rows": rows}, indent=2))
    return rows


if __name__ == "__main__":
    main()
