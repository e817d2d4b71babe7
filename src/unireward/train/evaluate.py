"""Judge accuracy on held-out unified records, for the model being trained or any `Judge`.

`evaluate_judge(judge, records)` runs the real judge (the prompts, parsing and logprob reading used at
inference) over unified records and returns, per task: pairwise accuracy over all pairs, ties included
(``pair_acc``, the benchmarks' tau), accuracy over the non-tie pairs (``pair_diff``), and the Spearman rank
correlation between the judge's pointwise scores and the labels (``spearman``). Unreadable answers count as
wrong (pairwise) or are left out of the correlation and counted (``unparsed``).

`live_judge(model, processor, family)` wraps a model already in memory (the one being trained) in the `hf`
backend's judge without saving or reloading it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from unireward.judges.hf import HFJudge
from unireward.records import Record, read_records
from unireward.tasks import Form


def rankdata(x: Sequence[float]) -> np.ndarray:
    """Ranks starting at 1, ties getting their average rank."""
    x = np.asarray(x, dtype=float)
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    sorted_x = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rho (Pearson correlation of average ranks); None with fewer than 3 points or no spread."""
    if len(x) < 3:
        return None
    rx, ry = rankdata(x), rankdata(y)
    if rx.std() == 0 or ry.std() == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def live_judge(model: Any, processor: Any, family: str, **judge_kwargs: Any) -> HFJudge:
    """A judge that uses `model` as it is now (no copy): put it in eval mode around the calls."""
    return HFJudge.from_model(model, processor, family=family, **judge_kwargs)


def select_records(path: str | Path, limit: int | None = None) -> list[Record]:
    """Records of `path`, at most `limit` per (task, form), in file order."""
    seen: dict[tuple, int] = defaultdict(int)
    out = []
    for r in read_records(path):
        key = (r.task, r.form)
        if limit is None or seen[key] < limit:
            seen[key] += 1
            out.append(r)
    return out


def evaluate_judge(judge: Any, records: Iterable[Record], base: str | Path) -> dict[str, Any]:
    """Per-task pairwise accuracy and pointwise Spearman of `judge` on `records` (media relative to `base`).

    Returns ``{"tasks": {task: {"pair_acc", "pair_diff", "n_pair", "spearman", "n_point", "unparsed"}},
    "pair_acc": mean over tasks, "spearman": mean over tasks}``.
    """
    records = list(records)
    pairs = [r for r in records if r.form == Form.PAIR]
    points = [r for r in records if r.form == Form.POINT]
    verdicts = judge.compare_batch([r.judge_inputs(base) for r in pairs]) if pairs else []
    scores = judge.score_batch([r.judge_inputs(base) for r in points]) if points else []
    tasks: dict[str, dict[str, Any]] = defaultdict(lambda: {"unparsed": 0})
    by_task: dict[str, list] = defaultdict(list)
    for r, v in zip(pairs, verdicts):
        by_task[r.task.value].append((r.winner, v.winner))
        tasks[r.task.value]["unparsed"] += v.winner is None
    for task, rows in by_task.items():
        right = [p == lab for lab, p in rows]
        strict = [p == lab for lab, p in rows if lab != "tie"]
        tasks[task].update(pair_acc=float(np.mean(right)), n_pair=len(rows),
                           pair_diff=float(np.mean(strict)) if strict else None)
    values: dict[str, list] = defaultdict(list)
    for r, s in zip(points, scores):
        if s.value is None:
            tasks[r.task.value]["unparsed"] += 1
        else:
            values[r.task.value].append((float(r.label["score"]), float(s.value)))
    for task, rows in values.items():
        tasks[task].update(spearman=spearman([a for a, _ in rows], [b for _, b in rows]), n_point=len(rows))
    out: dict[str, Any] = {"tasks": {t: dict(v) for t, v in sorted(tasks.items())}}
    accs = [v["pair_acc"] for v in out["tasks"].values() if v.get("pair_acc") is not None]
    rhos = [v["spearman"] for v in out["tasks"].values() if v.get("spearman") is not None]
    out["pair_acc"] = float(np.mean(accs)) if accs else None
    out["spearman"] = float(np.mean(rhos)) if rhos else None
    return out


def flat_metrics(result: dict[str, Any], prefix: str = "judge") -> dict[str, float]:
    """`evaluate_judge`'s result as flat log keys: ``judge/pair_acc/image_generation`` ..."""
    out = {}
    for task, m in result["tasks"].items():
        for key in ("pair_acc", "pair_diff", "spearman"):
            if m.get(key) is not None:
                out[f"{prefix}/{key}/{task}"] = round(m[key], 4)
    for key in ("pair_acc", "spearman"):
        if result.get(key) is not None:
            out[f"{prefix}/{key}/mean"] = round(result[key], 4)
    return out
