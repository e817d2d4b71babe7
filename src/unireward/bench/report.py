"""The human-readable report of a benchmark run: ``report.md`` and its plots (matplotlib, Agg backend).

Design choices a user will notice:
- Every accuracy is shown with its bootstrap 95% interval; the number of unparsed answers is always shown,
  with a reminder that they count as wrong; skipped and failed items are listed, never hidden.
- Benchmarks with categories (VL-RewardBench, MJ-Bench) show each category, overall and macro accuracy
  twice, named plainly: **strict** (unparsed answers wrong) and **official** (unparsed answers left out of
  the denominator, as VL-RewardBench's ``cal.py``), side by side in the table and in the bar plot.
- Plots (``plots/``): the confusion matrix (human label x judge answer, "none" = unparsed) always, and
  accuracy bars with their intervals per category (strict and official) or per dimension (tau and diff).
- The pieces (`pair_table`, `plot_bars`, `plot_confusion`, the number formats) are shared with
  ``unireward demo``, whose per-task tables and bars are drawn by the same code.
- Several judges on one benchmark (`write_comparison`): ``comparison.md`` with one row per judge (tau, diff,
  tie-calibrated, overall strict/official, each with its interval, and the unparsed count), a per-category
  table where the benchmark has categories, and ``plots/comparison.png`` (one bar series per judge).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


Interval = list[float] | None
Series = dict[str, dict[str, tuple[float | None, Interval]]]  # series name -> bar name -> (accuracy, ci95)
COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")


def pct(x: float | None) -> str:
    """An accuracy as a percentage with one decimal; "–" when undefined."""
    return "–" if x is None else f"{100 * x:.1f}"


def ci_text(ci: Interval, percent: bool = True) -> str:
    """A 95% interval, as percentages (accuracies) or with two decimals (correlations)."""
    if not ci:
        return ""
    return f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if percent else f"[{ci[0]:.2f}, {ci[1]:.2f}]"


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.4g}"


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(confusion: dict[str, dict[str, int]], path: Path) -> Path:
    plt = pyplot()
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


def plot_bars(series: Series, title: str, path: Path, counts: dict[str, int] | None = None) -> Path:
    """Accuracy bars (%), one per series side by side within each name, with their 95% intervals as error
    bars and the value written above; an undefined accuracy draws no bar."""
    plt = pyplot()
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(dict.fromkeys(k for values in series.values() for k in values))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(3.5, (0.5 + 0.45 * len(series)) * len(names) + 1.5), 3.6))
    for j, (label, values) in enumerate(series.items()):
        bars = [(i, 100 * values[k][0], values[k][1]) for i, k in enumerate(names)
                if k in values and values[k][0] is not None]
        xs = [i + (j - (len(series) - 1) / 2) * width for i, _, _ in bars]
        acc = [a for _, a, _ in bars]
        lo = [max(0.0, a - 100 * ci[0]) if ci else 0.0 for _, a, ci in bars]
        hi = [max(0.0, 100 * ci[1] - a) if ci else 0.0 for _, a, ci in bars]
        ax.bar(xs, acc, width, yerr=[lo, hi], capsize=3, color=COLORS[j % len(COLORS)], ecolor="#333333",
               label=label)
        for x, a, e in zip(xs, acc, hi, strict=True):
            ax.text(x, a + e + 2, f"{a:.1f}", ha="center", fontsize=8 if len(series) > 1 else 9)
    ax.set_xticks(range(len(names)), [f"{k}\n(n={counts[k]})" if counts and k in counts else k for k in names])
    ax.set_ylim(0, 125 if len(series) > 1 else 112)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title, pad=8)
    if len(series) > 1:
        ax.legend(loc="upper left", ncol=len(series), fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def tau_diff_series(groups: dict[str, dict[str, Any]]) -> Series:
    """`plot_bars` series of tau and diff per group (`compute_metrics`-shaped dicts)."""
    return {k: {name: (g[k], g["ci95"].get(k)) for name, g in groups.items()} for k in ("tau", "diff")}


def pair_table(header: str, groups: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown rows of pairwise accuracy per group (`compute_metrics`-shaped dicts: n, n_ties, tau, diff,
    ci95, n_unparsed, and tie_calibrated / no_tie when the judge gave margins)."""
    margins = any("tie_calibrated" in g for g in groups.values())
    extra = " tie-calibrated % | no tie % |" if margins else ""
    lines = [f"| {header} | n (ties) | tau % [95% CI] | diff % [95% CI] |{extra} unparsed |",
             "|---|---|---|---|" + ("---|---|" if margins else "") + "---|"]
    for k, g in groups.items():
        ci = g.get("ci95", {})
        cells = [k, f"{g['n']} ({g['n_ties']})", f"{pct(g['tau'])} {ci_text(ci.get('tau'))}",
                 f"{pct(g['diff'])} {ci_text(ci.get('diff'))}"]
        if margins:
            cells += [pct(g.get("tie_calibrated")), pct(g.get("no_tie"))]
        lines.append("| " + " | ".join([*cells, str(g.get("n_unparsed", "–"))]) + " |")
    return lines


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
        lines += _group_section("Categories", metrics["categories"], metrics, plots / "categories.png")
    if metrics.get("subsets"):
        lines += _group_section("Subsets", metrics["subsets"], None, None)
    if metrics.get("dims"):
        dims = metrics["dims"]
        plot_bars(tau_diff_series(dims), "accuracy per dimension (95% CI)", plots / "dims.png",
                  {d: g["n"] for d, g in dims.items()})
        lines += ["## Dimensions (the same verdicts against each dimension's labels)", "",
                  *pair_table("dimension", dims), "", "![dims](plots/dims.png)", ""]
    lines += _problem_lines(run)
    path = out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run_lines(run: dict[str, Any]) -> list[str]:
    keys = ("bench", "data", "split", "judge", "mode", "swap", "seed", "limit", "records")
    return [f"- {k}: `{run[k]}`" for k in keys if run.get(k) is not None]


def _summary_lines(m: dict[str, Any]) -> list[str]:
    ci = m.get("ci95", {})

    def row(name: str, key: str, definition: str) -> str:
        return f"| {name} | {pct(m[key])} | {ci_text(ci.get(key))} | {definition} |"

    lines = ["| metric | value (%) | 95% CI | definition |", "|---|---|---|---|",
             row("tau", "tau", f"accuracy over all {m['n']} pairs, ties included"),
             row("diff", "diff", f"accuracy over the {m['n'] - m['n_ties']} pairs humans did not tie")]
    if "tie_calibrated" in m:
        lines.append(row("tie-calibrated", "tie_calibrated",
                         f"best threshold over the margins (eps = {_num(m['tie_threshold'])})"))
        lines.append(row("no tie", "no_tie", "sign of the margin, non-tie pairs"))
    if "categories" in m:
        cats = m["categories"].values()
        n, parsed = sum(c["n"] for c in cats), sum(c["n"] - c["n_unparsed"] for c in cats)
        lines += [row("overall, strict", "overall_strict", f"right / all {n} pairs; unparsed answers are wrong"),
                  row("overall, official", "overall_official", f"right / the {parsed} pairs with a parsed answer "
                      "(unparsed left out, as VL-RewardBench's `cal.py`)"),
                  row("macro, strict", "macro_strict", f"mean of the {len(cats)} category accuracies, strict"),
                  row("macro, official", "macro_official", f"mean of the {len(cats)} category accuracies, official")]
    if "inversion_score" in m:
        lines.append(row("inversion score", "inversion_score",
                         f"HPSv2 ranking agreement over {m['n_groups']} prompts"))
    answers = ", ".join(f"{k} {v}" for k, v in m["pred_counts"].items())
    failed = f", of which {m['n_failed']} produced no answer (failed)" if m.get("n_failed") else ""
    official = "; the official accuracies leave them out" if "categories" in m else ""
    lines += ["", f"**Unparsed answers: {m['n_unparsed']} of {m['n']}**{failed} (counted as wrong{official}). "
              f"Judge answers: {answers}."]
    if m.get("order_consistency") is not None:
        lines.append(f"Order consistency (both orders agree): {pct(m['order_consistency'])}%.")
    return lines


def _group_section(title: str, groups: dict[str, Any], summary: dict[str, Any] | None, plot: Path | None) -> list[str]:
    """Strict and official accuracy per group; with `summary` (the metrics) also overall and macro, and a plot."""
    lines = [f"## {title}", "", "| name | n | unparsed | strict (%) | 95% CI | official (%) | 95% CI |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {k} | {g['n']} | {g['n_unparsed']} | {pct(g['strict'])} | {ci_text(g['ci95']['strict'])} | "
              f"{pct(g['official'])} | {ci_text(g['ci95']['official'])} |" for k, g in groups.items()]
    if summary is None:
        return lines + [""]
    ci = summary["ci95"]
    n, unparsed = sum(g["n"] for g in groups.values()), sum(g["n_unparsed"] for g in groups.values())
    for name, cells in (("overall", [n, unparsed]), ("macro", ["", ""])):
        for kind in ("strict", "official"):
            cells += [pct(summary[f"{name}_{kind}"]), ci_text(ci.get(f"{name}_{kind}"))]
        lines.append(f"| **{name}** | " + " | ".join(map(str, cells)) + " |")
    lines += ["", "strict: unparsed answers count as wrong. official: they are left out of the denominator, as "
              "VL-RewardBench's `cal.py` computes its overall and macro accuracy."]
    if plot is not None:
        series = {kind: {k: (g[kind], g["ci95"][kind]) for k, g in groups.items()}
                  | {name: (summary[f"{name}_{kind}"], ci.get(f"{name}_{kind}")) for name in ("overall", "macro")}
                  for kind in ("strict", "official")}
        plot_bars(series, f"{title.lower()}: strict and official accuracy (95% CI)", plot,
                  {k: g["n"] for k, g in groups.items()} | {"overall": n})
        lines += ["", f"![{title.lower()}](plots/{plot.name})"]
    return lines + [""]


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


# ---------------------------------------------------------------------- several judges side by side
def comparison_table(runs: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown rows, one per judge: tau and diff with their 95% intervals (and the tie-calibrated accuracy,
    and overall strict/official accuracy, where the metrics have them), and the unparsed count."""
    margins = any("tie_calibrated" in m for m in runs.values())
    cats = any(m.get("categories") for m in runs.values())
    head = ["judge", "n", "tau % [95% CI]", "diff % [95% CI]"] + (["tie-calibrated %"] if margins else []) \
        + (["overall strict % [95% CI]", "overall official % [95% CI]"] if cats else []) + ["unparsed"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, m in runs.items():
        ci = m.get("ci95", {})
        cells = [name, str(m["n"]), f"{pct(m['tau'])} {ci_text(ci.get('tau'))}",
                 f"{pct(m['diff'])} {ci_text(ci.get('diff'))}"]
        if margins:
            cells.append(pct(m.get("tie_calibrated")))
        if cats:
            cells += [f"{pct(m.get(k))} {ci_text(ci.get(k))}" for k in ("overall_strict", "overall_official")]
        lines.append("| " + " | ".join([*cells, str(m["n_unparsed"])]) + " |")
    return lines


def category_comparison(runs: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown rows, one per judge: strict accuracy per category with its 95% interval (empty without categories)."""
    names = list(dict.fromkeys(c for m in runs.values() for c in (m.get("categories") or {})))
    if not names:
        return []
    lines = ["| judge | " + " | ".join(f"{c} strict % [95% CI]" for c in names) + " |", "|---|" + "---|" * len(names)]
    for judge, m in runs.items():
        cats = m.get("categories") or {}
        cells = [f"{pct(cats[c]['strict'])} {ci_text(cats[c]['ci95']['strict'])}" if c in cats else "–" for c in names]
        lines.append(f"| {judge} | " + " | ".join(cells) + " |")
    return lines


def comparison_series(runs: dict[str, dict[str, Any]]) -> Series:
    """`plot_bars` series, one per judge: per category (strict) and overall where there are categories, else
    tau and diff."""
    out: Series = {}
    for judge, m in runs.items():
        cats = m.get("categories") or {}
        if cats:
            out[judge] = {c: (g["strict"], g["ci95"]["strict"]) for c, g in cats.items()} \
                | {"overall": (m.get("overall_strict"), m.get("ci95", {}).get("overall_strict"))}
        else:
            out[judge] = {k: (m[k], m.get("ci95", {}).get(k)) for k in ("tau", "diff")}
    return out


def write_comparison(out_dir: str | Path, bench: str, runs: dict[str, dict[str, Any]],
                     folders: dict[str, str] | None = None) -> Path:
    """``comparison.md`` and ``plots/comparison.png`` for several judges run on one benchmark."""
    out_dir = Path(out_dir)
    series = {Path(k).name if Path(k).is_dir() else k: v for k, v in comparison_series(runs).items()}
    plot_bars(series, f"{bench}: accuracy per judge (95% CI)", out_dir / "plots" / "comparison.png")
    lines = [f"# {bench} — {len(runs)} judges side by side", "",
             "Accuracies in %, with bootstrap 95% intervals; unparsed answers count as wrong (strict).", "",
             *comparison_table(runs), ""]
    per_cat = category_comparison(runs)
    if per_cat:
        lines += ["## Per category", "", *per_cat, ""]
    lines += ["![comparison](plots/comparison.png)", ""]
    if folders:
        lines += ["## Runs", ""] + [f"- {j}: `{f}` (report.md, predictions.jsonl)" for j, f in folders.items()] + [""]
    path = out_dir / "comparison.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
