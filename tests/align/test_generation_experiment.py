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
    kinds = results["image"]["before_by_kind"]
    assert kinds and set(kinds) <= {"color", "shape", "size", "count", "object", "position", "relation"}
    assert all(0.0 <= v <= 1.0 for r in runs for v in r["after_by_kind"].values())
    assert json.loads((out / "results.json").read_text())["image"]["before"] == results["image"]["before"]
    assert "| oracle | random | 0 |" in (out / "results.md").read_text()
    assert (out / "image" / "grids" / "oracle-pair-point-s0.png").stat().st_size > 0
    assert (out / "gains.png").stat().st_size > 0
    # a second run on val captions reuses the first run's samples through its store and makes none of its own
    again = exp.main(["--image-generator", str(gen), "--out", str(tmp_path / "run2"), "--train-captions", "3",
                      "--test-captions", "2", "--n", "4", "--eval-samples", "1", "--steps", "1",
                      "--strategies", "random", "--eval-split", "val", "--signals", "oracle",
                      "--store", str(out / "image" / "construct-store"),
                      "--dpo-overrides", json.dumps({"per_device_batch_size": 2})])
    assert [r["strategy"] for r in again["image"]["runs"]] == ["random"]
    assert not (tmp_path / "run2" / "image" / "construct-store").exists()


def test_element_kinds_of_a_correct_render_are_all_right(tmp_path):
    import numpy as np

    from unireward.align.synth_eval import by_element_kind
    from unireward.synth.generate import image_scene
    from unireward.synth.grammar import parse_caption
    from unireward.synth.render import render_scene

    cap = "a red circle to the left of a blue square"
    render_scene(image_scene(parse_caption(cap), np.random.default_rng(0), set(), 0.0), 48).save(tmp_path / "a.png")
    render_scene(image_scene(parse_caption("a green diamond"), np.random.default_rng(0), set(), 0.0),
                 48).save(tmp_path / "b.png")
    kinds = by_element_kind("image", [cap], [[str(tmp_path / "a.png"), str(tmp_path / "b.png")]])
    assert kinds == {"object": 0.5, "relation": 0.5}  # right in a.png, nothing of it in b.png


def test_text_use_probe_swaps_positions_and_measures_each_caption_variant(tmp_path):
    from unireward.train.generator import GeneratorSettings, train_generator

    exp = load_experiment("generator_text_use")
    assert exp.swapped("a large red circle at the top left") == "a large red circle at the bottom right"
    assert exp.swapped("a blue square at the right") == "a blue square at the left"
    caps, x = exp.position_batch(5, 16)
    assert len(caps) == 5 and x.shape == (5, 3, 16, 16) and all(" at the " in c for c in caps)
    gen = tmp_path / "sd3"
    train_generator(gen, GeneratorSettings(kind="image", denoiser="sd3", size=16, vae_steps=2, steps=2, batch=2,
                                           width=8, text_width=16, probe_every=2, probe_n=1, sample_steps=2,
                                           warmup=1), log=lambda _: None)
    out = exp.main([str(gen), "--n", "4"])
    assert out["family"] == "sd3" and list(out["loss"]) == ["0.3", "0.6", "0.8", "0.9", "0.97"]
    for losses in out["loss"].values():
        assert set(losses) == {"true", "swapped", "none"} and all(v > 0 for v in losses.values())
    assert out["loss"]["0.9"]["true"] != out["loss"]["0.9"]["none"]  # the caption reaches the denoiser
