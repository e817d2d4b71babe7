"""experiments/align_generation.py end to end at toy size: a tiny trained generator, oracle pairs, two strategies,
Diffusion-DPO, the oracle's accuracy before and after with intervals, and the files it writes."""

from __future__ import annotations

import json

from tests.conftest import load_experiment


def test_toy_run(tmp_path):
    from unireward.train.generator import GeneratorSettings, train_generator

    gen = tmp_path / "t2i"
    train_generator(gen, GeneratorSettings(kind="image", size=16, vae_steps=2, steps=2, batch=2, width=8,
                                           text_width=16, probe_every=2, probe_n=1, sample_steps=2, warmup=1),
                    log=lambda _: None)
    exp = load_experiment("align_generation")
    out = tmp_path / "run"
    results = exp.main(["--image-generator", str(gen), "--out", str(out), "--train-captions", "3",
                        "--test-captions", "2", "--n", "4", "--eval-samples", "1", "--steps", "1",
                        "--strategies", "pair-point", "random",
                        "--dpo-overrides", json.dumps({"per_device_batch_size": 2})])
    runs = results["image"]["runs"]
    assert [(r["signal"], r["strategy"]) for r in runs] == [("oracle", "pair-point"), ("oracle", "random")]
    for r in runs:
        lo, hi = r["change_ci95"]["accuracy"]
        assert -1.0 <= lo <= hi <= 1.0 and 0.0 <= r["after"]["accuracy"] <= 1.0
    assert json.loads((out / "results.json").read_text())["image"]["before"] == results["image"]["before"]
    assert "| oracle | random | 0 |" in (out / "results.md").read_text()
    assert (out / "image" / "grids" / "oracle-pair-point-s0.png").stat().st_size > 0
