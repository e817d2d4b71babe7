"""The human-readable report of a benchmark run: ``report.md`` and its plots (matplotlib, Agg backend).

Design choices a user will notice:
- Every accuracy is shown with its bootstrap 95% interval; the number of unparsed answers is always shown,
  with a reminder that they count as wrong; skipped and failed items are listed, never hidden.
- Plots (``plots/``): the confusion matrix (human label x judge answer, "none" = unparsed) always, and
  per-category accuracy bars with their intervals when the benchmark has categories or dimensions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.4g}"


def _ci(ci: list[float] | None) -> str:
    return "" if not ci else f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(confusion: dict[str, dict[str, int]], path: Path) -> Path:
    plt = _plt()
    rows, cols = list(confusion), list(next(iter(confusion.values())))
    values = [[confusion[r][c] for c in cols] for r in rows]
    fig, ax = plt.subplots(figsize=(4.2, 3.4))
    im = ax.imshow(values, cmap="Blues")
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("judge answer")
    ax.set_ylabel("human label")
    top = max(max(v) for v in values) or 1
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v > top / 2 else "black")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_bars(values: dict[str, tuple[float | None, list[float] | None]], title: str, path: Path,
              counts: dict[str, int] | None = None) -> Path:
    """Accuracy bars (%) with their 95% intervals as error bars; the value is written above each interval."""
    plt = _plt()
    names = list(values)
    acc = [100 * (values[k][0] or 0.0) for k in names]
    ci = [[100 * x for x in (values[k][1] or [a / 100, a / 100])] for k, a in zip(names, acc, strict=True)]
    err = [[max(0.0, a - lo) for a, (lo, _) in zip(acc, ci, strict=True)],
           [max(0.0, hi - a) for a, (_, hi) in zip(acc, ci, strict=True)]]
    labels = [f"{k}\n(n={counts[k]})" if counts else k for k in names]
    fig, ax = plt.subplots(figsize=(max(3.5, 1.2 * len(names) + 1.5), 3.4))
    ax.bar(labels, acc, yerr=err, capsize=4, color="#4c72b0", ecolor="#333333")
    ax.set_ylim(0, 112)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title, pad=8)
    for i, (a, (_, hi)) in enumerate(zip(acc, ci, strict=True)):
        ax.text(i, hi + 2, f"{a:.1f}", ha="center", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(out_dir: str | Path, metrics: dict[str, Any], run: dict[str, Any] | None = None) -> Path:
    """Write ``report.md`` and ``plots/*.png`` into `out_dir`; return the report's path."""
    out_dir = Path(out_dir)
    plots = out_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    run = run or {}
    lines = [f"# {run.get('bench', 'benchmark')} — {run.get('judge', 'judge')}", ""]
    lines += _run_lines(run) + [""] + _summary_lines(metrics) + [""]
    plot_confusion(metrics["confusion"], plots / "confusion.png")
    lines += ["## Confusion matrix", "", "![confusion](plots/confusion.png)", ""]
    if metrics.get("categories"):
        lines += _group_section("Categories", metrics["categories"], metrics.get("macro"), plots / "categories.png")
    if metrics.get("subsets"):
        lines += _group_section("Subsets", metrics["subsets"], None, None)
    if metrics.get("dims"):
        lines += _dims_section(metrics["dims"], plots / "dims.png")
    lines += _problem_lines(run)
    path = out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run_lines(run: dict[str, Any]) -> list[str]:
    keys = ("bench", "data", "split", "judge", "mode", "swap", "seed", "limit", "records")
    return [f"- {k}: `{run[k]}`" for k in keys if run.get(k) is not None]


def _summary_lines(m: dict[str, Any]) -> list[str]:
    ci = m.get("ci95", {})
    lines = ["| metric | value (%) | 95% CI | definition |", "|---|---|---|---|",
             f"| tau | {_pct(m['tau'])} | {_ci(ci.get('tau'))} | accuracy over all {m['n']} pairs, ties included |",
             f"| diff | {_pct(m['diff'])} | {_ci(ci.get('diff'))} | accuracy over the {m['n'] - m['n_ties']} "
             "pairs humans did not tie |"]
    if "tie_calibrated" in m:
        lines.append(f"| tie-calibrated | {_pct(m['tie_calibrated'])} | {_ci(ci.get('tie_calibrated'))} | "
                     f"best threshold over the margins (eps = {_num(m['tie_threshold'])}) |")
        lines.append(f"| no tie | {_pct(m['no_tie'])} | {_ci(ci.get('no_tie'))} | sign of the margin, non-tie pairs |")
    if m.get("macro") is not None:
        lines.append(f"| macro | {_pct(m['macro'])} | {_ci(ci.get('macro'))} | mean of the category accuracies |")
    if "inversion_score" in m:
        lines.append(f"| inversion score | {_pct(m['inversion_score'])} | {_ci(ci.get('inversion_score'))} | "
                     f"HPSv2 ranking agreement over {m['n_groups']} prompts |")
    answers = ", ".join(f"{k} {v}" for k, v in m["pred_counts"].items())
    failed = f", of which {m['n_failed']} produced no answer (failed)" if m.get("n_failed") else ""
    lines += ["", f"**Unparsed answers: {m['n_unparsed']} of {m['n']}**{failed} (counted as wrong). "
              f"Judge answers: {answers}."]
    if m.get("order_consistency") is not None:
        lines.append(f"Order consistency (both orders agree): {_pct(m['order_consistency'])}%.")
    return lines


def _group_section(title: str, groups: dict[str, Any], macro: float | None, plot: Path | None) -> list[str]:
    lines = [f"## {title}", "", "| name | n | accuracy (%) | 95% CI |", "|---|---|---|---|"]
    lines += [f"| {k} | {g['n']} | {_pct(g['accuracy'])} | {_ci(g['ci95'])} |" for k, g in groups.items()]
    if macro is not None:
        lines.append(f"| **macro** | | {_pct(macro)} | |")
    if plot is not None:
        plot_bars({k: (g["accuracy"], g["ci95"]) for k, g in groups.items()}, f"{title} (95% CI)", plot,
                  {k: g["n"] for k, g in groups.items()})
        lines += ["", f"![{title.lower()}](plots/{plot.name})"]
    return lines + [""]


def _dims_section(dims: dict[str, Any], plot: Path) -> list[str]:
    lines = ["## Dimensions (the same verdicts against each dimension's labels)", "",
             "| dimension | n | tau | diff | tie-calibrated | no tie |", "|---|---|---|---|---|---|"]
    for k, d in dims.items():
        lines.append(f"| {k} | {d['n']} | {_pct(d['tau'])} | {_pct(d['diff'])} | {_pct(d.get('tie_calibrated'))} | "
                     f"{_pct(d.get('no_tie'))} |")
    plot_bars({k: (d["tau"], d["ci95"].get("tau")) for k, d in dims.items()}, "tau per dimension (95% CI)", plot,
              {k: d["n"] for k, d in dims.items()})
    return lines + ["", f"![dims](plots/{plot.name})", ""]


def _problem_lines(run: dict[str, Any]) -> list[str]:
    lines = []
    if run.get("filtered"):
        lines += ["## Left out by the benchmark's protocol", ""]
        lines += [f"- {reason}: {n}" for reason, n in run["filtered"].items()] + [""]
    skipped = run.get("skipped") or []
    if skipped:
        lines += [f"## Skipped items ({len(skipped)}): not judged, not in the metrics", ""]
        lines += [f"- {s}" for s in skipped[:50]]
        if len(skipped) > 50:
            lines.append(f"- … {len(skipped) - 50} more in `skipped.txt`")
        lines.append("")
    if run.get("failed"):
        lines += [f"## Failed items: {run['failed']}", "",
                  "Judging raised for these items; they are in the metrics as unparsed (wrong) and are judged "
                  "again when the run is resumed. Their errors are in `predictions.jsonl` (`error`).", ""]
    return lines
