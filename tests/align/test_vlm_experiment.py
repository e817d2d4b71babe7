"""experiments/align_understanding.py end to end at toy scale: questions, sampling, both signals, the four
strategies, DPO with one budget, held-out oracle accuracy with intervals, a second round."""

from __future__ import annotations

import json

import pytest

from tests.conftest import load_experiment
from tests.construct import conftest as construct_fixtures


judge_dir = construct_fixtures.judge_dir


@pytest.mark.slow
def test_toy_run(tiny_qwen, judge_dir, tmp_path):
    exp = load_experiment("align_understanding")
    cfg = tmp_path / "dpo.yaml"
    cfg.write_text("max_steps: 1\nper_device_train_batch_size: 2\ngradient_accumulation_steps: 1\n"
                   "gradient_checkpointing: false\nsave_strategy: 'no'\ndisable_tqdm: true\nlearning_rate: 1.0e-4\n"
                   "warmup_steps: 0\nmax_pixels: 7056\n")
    rows = exp.main(["--answerer", tiny_qwen, "--judge", judge_dir, "--judge-mode", "logprob", "--out",
                     str(tmp_path / "run"), "--config", str(cfg), "--tasks", "image_understanding",
                     "--train-questions", "3", "--test-questions", "4", "--n", "2", "--max-new-tokens", "4"])
    cells = {r["cell"]: r for r in rows}
    assert "answerer (no DPO)" in cells and len([c for c in cells if c.startswith("judge / ")]) >= 4
    trained = [r for r in rows if r.get("steps")]
    assert trained and all(r["steps"] == 1 and 0 <= r["accuracy"] <= 1 for r in trained)
    assert all(lo <= r["accuracy"] <= hi for r in trained for lo, hi in [r["ci"]])
    assert json.loads((tmp_path / "run" / "results.json").read_text()) == rows
    assert (tmp_path / "run" / "results.md").read_text().startswith("| task |")
    assert all(0 <= r["chosen_right"] <= 1 and 0 <= r["rejected_right"] <= 1 for r in trained)
    assert (tmp_path / "run" / "gains.png").stat().st_size > 1000
    # round 2: sampled from the round-1 judge / pair-point model, its own store, DPO again from that model on
    # both rounds' pairs (the pooled set holds every pair of the two rounds)
    round2 = cells["judge / pair-point, round 2 on both rounds' pairs"]
    pair_sets = tmp_path / "run" / "image_understanding-seed0" / "pairs" / "judge"
    kept = [sum(1 for _ in open(pair_sets / name / "pairs.jsonl")) for name in ("pair-point", "pair-point-round2")]
    assert round2["steps"] == 1 and round2["pairs"] == sum(kept) > 0 and 0 <= round2["chosen_right"] <= 1
    assert (tmp_path / "run" / "image_understanding-seed0" / "stores" / "judge-round2").stat().st_size > 0
    # the confidence filters on the same store: judge cells only, named by their filter, no oracle cells
    first = rows
    rows = exp.main(["--answerer", tiny_qwen, "--judge", judge_dir, "--judge-mode", "logprob", "--out",
                     str(tmp_path / "run"), "--config", str(cfg), "--tasks", "image_understanding",
                     "--train-questions", "3", "--test-questions", "4", "--n", "2", "--max-new-tokens", "4",
                     "--signals", "judge", "--strategies", "pair-point", "--min-gap", "1000",
                     "--no-second-round", "--stores", str(tmp_path / "stores")])
    filtered = [r for r in rows if "signal" in r]
    assert [(r["cell"], r["note"], r["min_gap"]) for r in filtered] == [
        ("judge / pair-point (margin >= 0, gap > 1000)", "no pairs kept", 1000.0)]
    assert (tmp_path / "stores" / "image_understanding-seed0").stat().st_size > 0  # --stores: the store's place
    kept = json.loads((tmp_path / "run" / "results.json").read_text())  # the first run's cells and the new one
    assert [r["cell"] for r in kept] == [r["cell"] for r in first] + [filtered[0]["cell"]]


def test_pair_quality_grades_chosen_and_rejected_with_the_oracle(tmp_path):
    from unireward.synth import Oracle, parse_question

    exp, oracle = load_experiment("align_understanding"), Oracle()
    prompts = exp.write_questions(tmp_path, "image_understanding", "train", 4, seed=0)
    questions = [json.loads(line) for line in prompts.read_text().splitlines()]
    truths = [oracle.answer(q["prompt"], str(prompts.parent / q["image"])) for q in questions]
    # chosen: the truth for three questions, nonsense for the fourth; rejected: always nonsense
    rows = [{"id": q["id"], "chosen": [{"role": "assistant", "content": [{"type": "text", "text": t if i < 3
                                                                                     else "zzz"}]}],
             "rejected": [{"role": "assistant", "content": [{"type": "text", "text": "zzz"}]}]}
            for i, (q, t) in enumerate(zip(questions, truths))]
    (tmp_path / "pairs").mkdir()
    (tmp_path / "pairs" / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    quality = exp.pair_quality(tmp_path / "pairs", prompts, oracle)
    assert (quality["chosen_right"], quality["rejected_right"]) == (0.75, 0.0)
    kinds = [parse_question(q["prompt"]).kind for q in questions]
    assert quality["by_kind"] == {k: [kinds.count(k), kinds[:3].count(k), 0] for k in sorted(set(kinds))}


def test_a_cell_keeps_per_kind_results_and_every_question_for_paired_comparisons():
    import numpy as np

    exp = load_experiment("align_understanding")
    base, after = np.array([1.0, 0.0, 0.0, 1.0, 0.0]), np.array([1.0, 1.0, 0.0, 0.0, 1.0])
    row = exp.cell("x", after, base, {"seed": 0}, ["color", "count", "color", "count", "where"])
    assert (row["accuracy"], row["gain"]) == (0.6, 0.2)
    assert row["test_by_kind"] == {"color": [2, 1, 1], "count": [2, 1, 1], "where": [1, 0, 1]}
    assert row["correct"] == "11001"
    assert "correct" not in exp.cell("x", after, base, {})  # kinds not given: the plain row
    with pytest.raises(ValueError):  # a kind per question, or an error
        exp.cell("x", after, base, {}, ["color"])


def test_across_seeds_gives_the_mean_gain_and_a_t_interval():
    exp = load_experiment("align_understanding")
    rows = [{"task": "t", "cell": "answerer (no DPO)", "seed": s, "gain": 0.0} for s in (0, 1, 2)]
    rows += [{"task": "t", "cell": "oracle / random", "signal": "oracle", "seed": s, "gain": g}
             for s, g in zip((0, 1, 2), (0.01, 0.03, 0.05))]
    rows += [{"task": "t", "cell": "judge / random", "signal": "judge", "seed": 0, "gain": 0.1}]  # one seed: left out
    (summary,) = exp.across_seeds(rows)
    # mean 0.03, sd 0.02, t(0.975, df 2) = 4.303: half width 4.303 * 0.02 / sqrt(3) = 0.0497
    assert summary["cell"] == "oracle / random" and summary["seeds"] == 3 and summary["mean_gain"] == 0.03
    assert summary["ci"] == [round(0.03 - 0.049687, 4), round(0.03 + 0.049687, 4)]
    full = [{"accuracy": 0.5, "ci": [0.4, 0.6], "gain_ci": [-0.1, 0.1], **r} for r in rows]
    assert "| t | oracle / random | 3 | +0.030 [-0.020, +0.080] |" in exp.markdown(full)


def test_across_seeds_pools_questions_with_a_bootstrap_stratified_by_seed():
    import numpy as np

    exp = load_experiment("align_understanding")
    rows = [{"task": "t", "cell": "answerer (no DPO)", "seed": 0, "gain": 0.0, "correct": "00"},
            {"task": "t", "cell": "answerer (no DPO)", "seed": 1, "gain": 0.0, "correct": "0000"},
            {"task": "t", "cell": "j", "signal": "judge", "seed": 0, "gain": 1.0, "correct": "11"},
            {"task": "t", "cell": "j", "signal": "judge", "seed": 1, "gain": 0.0, "correct": "0000"}]
    (summary,) = exp.across_seeds(rows)
    # every resample keeps 2 questions of seed 0 (all gained) and 4 of seed 1 (none): 2/6, whatever is drawn;
    # the mean of the seeds' gains is 0.5
    assert summary["pooled_ci"] == [0.3333, 0.3333] and summary["mean_gain"] == 0.5
    rng = np.random.default_rng(1)
    noisy = [(rng.integers(0, 2, 300).astype(float), rng.integers(0, 2, 300).astype(float)) for _ in range(3)]
    lo, hi = exp.pooled_bootstrap(noisy)
    gain = np.mean([a.mean() - b.mean() for a, b in noisy])
    assert lo < gain < hi and 0.04 < hi - lo < 0.12  # 900 paired 0/1 differences: about +-0.04 each side
    del rows[0]["correct"]  # a seed without per-question results: no pooled interval, never a partial one
    assert "pooled_ci" not in exp.across_seeds(rows)[0]


def test_merge_combines_seeds_run_as_separate_jobs_and_refuses_conflicts(tmp_path):
    exp = load_experiment("align_understanding")

    def run(name, seed, gains):
        rows = [{"task": "t", "seed": seed, "cell": "answerer (no DPO)", "accuracy": 0.4, "ci": [0.3, 0.5],
                 "gain": 0.0, "gain_ci": [0.0, 0.0]}]
        rows += [{"task": "t", "seed": seed, "cell": f"oracle / {s}", "signal": "oracle", "strategy": s,
                  "accuracy": 0.4 + g, "ci": [0.3, 0.6], "gain": g, "gain_ci": [g - 0.05, g + 0.05],
                  "chosen_right": 0.9, "rejected_right": 0.0} for s, g in gains.items()]
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(rows))
        return tmp_path / name

    a = run("a", 0, {"pair-point": 0.10, "random": -0.03})
    b = run("b", 1, {"pair-point": 0.14})
    c = run("c", 0, {"point-only": 0.08})  # a later strategy for seed 0: its answerer row repeats a's
    rows = exp.main(["--merge", str(a), str(b), str(c), "--out", str(tmp_path / "all")])
    assert [(r["seed"], r["cell"]) for r in rows] == [
        (0, "answerer (no DPO)"), (0, "oracle / pair-point"), (0, "oracle / random"), (0, "oracle / point-only"),
        (1, "answerer (no DPO)"), (1, "oracle / pair-point")]
    (summary,) = exp.across_seeds(rows)
    assert (summary["cell"], summary["seeds"], summary["mean_gain"]) == ("oracle / pair-point", 2, 0.12)
    assert "| t | oracle / pair-point | 2 | +0.120" in (tmp_path / "all" / "results.md").read_text()
    assert (tmp_path / "all" / "cells.png").stat().st_size > 1000

    d = run("d", 1, {"pair-point": 0.02})  # seed 1's pair-point again, with another number
    with pytest.raises(ValueError, match=r"\('t', 1, 'oracle / pair-point'\) differs between .*b and .*d"):
        exp.merge([b, d])
    with pytest.raises(FileNotFoundError, match="missing/results.json does not exist"):
        exp.merge([a, tmp_path / "missing"])
    # the same cell trained another way: tagged, it sits beside the first instead of conflicting
    tagged = exp.merge([b, f"{d}=twice the steps"])
    assert [(r["cell"], r["gain"]) for r in tagged] == [
        ("answerer (no DPO)", 0.0), ("oracle / pair-point", 0.14), ("oracle / pair-point, twice the steps", 0.02)]


def test_a_video_input_that_differs_from_the_dpo_config_is_refused(tmp_path, capsys):
    exp = load_experiment("align_understanding")
    cfg = tmp_path / "dpo.yaml"
    cfg.write_text("video_as: frames\n")
    common = ["--answerer", "a", "--judge", "oracle", "--out", str(tmp_path / "run"), "--config", str(cfg)]
    with pytest.raises(SystemExit):
        exp.main([*common, "--video-as", "video"])
    assert "--video-as video but the DPO config" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # round 2 samples one seed's questions: pooling needs it off
        exp.main([*common, "--pool-seeds", "0", "1"])
    assert "--pool-seeds needs --no-second-round" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # the judge signal without a judge
        exp.main(["--answerer", "a", "--out", str(tmp_path / "run"), "--signals", "oracle", "judge"])
    assert "--judge is required for --signals judge" in capsys.readouterr().err


def test_pooled_seeds_make_one_pair_set_with_distinct_ids_and_working_paths(tmp_path):
    from unireward.synth import Oracle

    exp, oracle, parts = load_experiment("align_understanding"), Oracle(), {}
    for seed in (0, 1):  # two seeds' questions, each with its own pair set (its questions' truth as chosen)
        prompts = exp.write_questions(tmp_path / f"seed{seed}", "image_understanding", "train", 2, seed=seed)
        pairs = tmp_path / f"seed{seed}" / "pairs"
        (pairs / "media").mkdir(parents=True)
        rows = []
        for q in map(json.loads, prompts.read_text().splitlines()):
            name = f"media/{seed}-{q['id']}.png"  # content-hashed in construct: distinct images, distinct names
            (pairs / name).write_bytes((prompts.parent / q["image"]).read_bytes())
            truth = oracle.answer(q["prompt"], str(prompts.parent / q["image"]))
            rows.append({"id": q["id"], "images": [name], **{side: [{"role": "assistant", "content": [
                {"type": "text", "text": text}]}] for side, text in (("chosen", truth), ("rejected", "zzz"))}})
        (pairs / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        parts[seed] = (pairs, prompts)
    pooled, prompts = exp.pool_pairs(parts, tmp_path / "elsewhere" / "pooled")
    rows = [json.loads(line) for line in (pooled / "pairs.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["s0/train-0", "s0/train-1", "s1/train-0", "s1/train-1"]
    assert all((pooled / r["images"][0]).is_file() for r in rows)
    # the pooled prompts point at each seed's rendered questions: the oracle grades every chosen answer right
    assert exp.pair_quality(pooled, prompts, oracle)["chosen_right"] == 1.0


def test_balanced_pool_keeps_each_answer_direction_equally_often_and_writes_what_it_drops(tmp_path):
    exp, parts = load_experiment("align_understanding"), {}
    for seed, (chosen, rejected, n) in enumerate((("yes", "no", 3), ("no", "yes", 1))):
        folder = tmp_path / f"seed{seed}"
        folder.mkdir()
        msg = lambda t: [{"role": "assistant", "content": [{"type": "text", "text": t}]}]  # noqa: E731
        rows = [{"id": f"train-{i}", "chosen": msg(chosen), "rejected": msg(rejected)} for i in range(n)]
        (folder / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (folder / "prompts.jsonl").write_text("".join(json.dumps({"id": r["id"], "prompt": "q"}) + "\n" for r in rows))
        parts[seed] = (folder, folder / "prompts.jsonl")
    pooled, _ = exp.pool_pairs(parts, tmp_path / "pooled", balance_seed=0)
    kept = [json.loads(line) for line in (pooled / "pairs.jsonl").read_text().splitlines()]
    dropped = [json.loads(line) for line in (pooled / "unbalanced.jsonl").read_text().splitlines()]
    assert sorted(r["chosen"][0]["content"][0]["text"] for r in kept) == ["no", "yes"]
    assert len(dropped) == 2 and all(r["id"].startswith("s0/") for r in dropped)


def test_kind_changes_pool_a_cells_seeds_and_the_plot_is_written(tmp_path):
    exp = load_experiment("align_understanding")
    rows = [{"task": "video_understanding", "seed": 0, "cell": "answerer (no DPO)",
             "test_by_kind": {"speed": [4, 3, 3]}},
            {"task": "video_understanding", "seed": 0, "cell": "oracle / pair-point", "signal": "oracle",
             "test_by_kind": {"speed": [4, 3, 1], "moving_color": [2, 0, 2]}},
            {"task": "video_understanding", "seed": 1, "cell": "oracle / pair-point", "signal": "oracle",
             "test_by_kind": {"speed": [6, 4, 2]}}]
    assert exp.kind_changes(rows) == {"video_understanding": {"oracle / pair-point": {
        "speed": [10, 7, 3], "moving_color": [2, 0, 2]}}}
    assert exp.plot_kinds(rows, tmp_path / "kinds.png").stat().st_size > 1000
    assert exp.plot_kinds(rows[:1], tmp_path / "none.png") is None and not (tmp_path / "none.png").exists()
