"""Counts over a folder of unified records: per task, form, source and label, plus a plot.

`stats("unified/oip")` reads ``records.jsonl`` (a converted source or a build's mixture) in one streaming
pass and returns counts per task, form, source and task/form; winner balance (A/B/tie) per source and per
task/form, which shows position bias at a glance; and per source, a 10-bin histogram of pointwise scores
over the source's own scale. `plot_stats` draws the same numbers into a PNG (matplotlib, Agg backend).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from unireward.records import read_records


BINS = 10


def _records_file(path: str | Path) -> Path:
    path = Path(path)
    return path / "records.jsonl" if path.is_dir() else path


def stats(path: str | Path) -> dict[str, Any]:
    """Counts and histograms over the records at `path` (a folder with records.jsonl, or a JSONL file)."""
    by: dict[str, Counter] = {k: Counter() for k in ("task", "form", "source", "task_form")}
    winners: dict[str, Counter] = defaultdict(Counter)
    hist: dict[str, dict[str, Any]] = {}
    unlabelled = 0
    for r in read_records(_records_file(path)):
        tf = f"{r.task}/{r.form}"
        for key, value in (("task", r.task.value), ("form", r.form.value), ("source", r.source), ("task_form", tf)):
            by[key][value] += 1
        if not r.label:
            unlabelled += 1
        elif "winner" in r.label:
            winners[f"source:{r.source}"][r.label["winner"]] += 1
            winners[f"task_form:{tf}"][r.label["winner"]] += 1
        elif r.label.get("score") is not None and r.label.get("scale"):
            _add_score(hist, f"{r.source}/{r.task}", r.label["score"], r.label["scale"])
    for h in hist.values():
        h["mean"] = round(h.pop("sum") / h["n"], 4)
    return {"records": sum(by["task"].values()), "unlabelled": unlabelled,
            **{f"by_{k}": dict(sorted(v.items())) for k, v in by.items()},
            "winners": {k: {w: v.get(w, 0) for w in ("A", "B", "tie")} for k, v in sorted(winners.items())},
            "score_histograms": hist}


def _add_score(hist: dict[str, dict[str, Any]], key: str, score: float, scale: list[float]) -> None:
    lo, hi = float(scale[0]), float(scale[1])
    h = hist.setdefault(f"{key} [{lo:g}, {hi:g}]", {"scale": [lo, hi], "counts": [0] * BINS, "n": 0, "sum": 0.0})
    i = min(BINS - 1, max(0, int((score - lo) / (hi - lo) * BINS)))
    h["counts"][i] += 1
    h["n"] += 1
    h["sum"] += score


def plot_stats(s: dict[str, Any], png: str | Path) -> Path:
    """Three panels: records per source and form, winner balance per source, score histograms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    ax = axes[0]
    sources = list(s["by_source"])
    ax.barh(sources, [s["by_source"][k] for k in sources], color="#4c72b0")
    ax.set_title(f"records per source ({s['records']})")
    ax = axes[1]
    rows = [k for k in s["winners"] if k.startswith("source:")]
    left = [0] * len(rows)
    for w, color in (("A", "#55a868"), ("B", "#c44e52"), ("tie", "#8172b2")):
        vals = [s["winners"][k][w] for k in rows]
        ax.barh([k.split(":", 1)[1] for k in rows], vals, left=left, color=color, label=w)
        left = [a + b for a, b in zip(left, vals, strict=True)]
    ax.set_title("pairwise winners")
    ax.legend(loc="lower right")
    ax = axes[2]
    for key, h in s["score_histograms"].items():
        centers = [(i + 0.5) / BINS for i in range(BINS)]
        ax.plot(centers, [c / max(1, h["n"]) for c in h["counts"]], marker="o", label=key)
    ax.set_xlabel("score, normalised to [0, 1] over its own scale")
    ax.set_title("pointwise score histograms")
    if s["score_histograms"]:
        ax.legend(fontsize=7)
    fig.tight_layout()
    png = Path(png)
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png


def main_json(path: str | Path, png: str | Path | None = None) -> str:
    """Stats as JSON text, writing the plot next to the records (``stats.png``) unless told where."""
    s = stats(path)
    target = Path(png) if png else _records_file(path).parent / "stats.png"
    s["plot"] = str(plot_stats(s, target))
    return json.dumps(s, indent=2)
