"""Generator + judge + store end to end on tiny real models, one test per output format, plus failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import unireward as ur
from tests.construct.conftest import image, write_jsonl
from unireward.construct.outputs import load_pairs
from unireward.construct.run import construct


EVIDENCE = {"id", "judge", "judge_family", "strategy", "chosen_score", "rejected_score", "chosen_index",
            "rejected_index", "n_candidates", "verdicts", "scores"}


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_image_understanding_trl_rows(tmp_path, judge, vlm_dir, understanding_prompts):
    out = tmp_path / "out"
    s = construct("image_understanding", understanding_prompts, f"vlm:{vlm_dir}?max_new_tokens=6", judge, out,
                  n=4, progress=False)
    assert s["prompts"] == 6 and s["kept"] + s["dropped"] == 6 and s["failed"] == 0
    assert s["kept"] >= 1
    assert s["judge_calls"]["pair"] == 6 * 2 and s["cache_hits"] == 0
    rows = read(out / "pairs.jsonl")
    for r in rows:
        assert EVIDENCE <= set(r)
        assert r["prompt"][0]["role"] == "user" and r["prompt"][0]["content"][0] == {"type": "image"}
        assert r["chosen"][0]["role"] == "assistant" and r["rejected"][0]["role"] == "assistant"
        assert r["chosen_score"] > r["rejected_score"]  # numbers, compared as numbers
        assert r["chosen_index"] != r["rejected_index"]
        # the chosen candidate won its pair; the rejected one lost its pair
        winners = {v["decided"] for v in r["verdicts"]}
        assert r["chosen_index"] in winners and r["rejected_index"] not in winners
        assert (out / r["images"][0]).is_file()
    import datasets

    ds = datasets.load_dataset("json", data_files=str(out / "pairs.jsonl"), split="train")
    assert len(ds) == len(rows) and {"prompt", "chosen", "rejected", "images"} <= set(ds.column_names)
    decoded = load_pairs(out)
    assert decoded[0]["images"][0].size == (32, 32)


def test_video_understanding_trl_rows(tmp_path, judge, vlm_dir):
    from unireward.media import write_video

    rows = []
    for i in range(3):
        write_video(tmp_path / f"v{i}.mp4", [image(10 * i + k) for k in range(6)])
        rows.append({"id": f"v{i}", "prompt": "What moves?", "video": f"v{i}.mp4"})
    prompts = write_jsonl(tmp_path / "p.jsonl", rows)
    out = tmp_path / "out"
    s = construct("video_understanding", prompts, f"vlm:{vlm_dir}?max_new_tokens=4&num_frames=4", judge, out,
                  n=2, progress=False)
    assert s["failed"] == 0 and s["kept"] + s["dropped"] == 3
    kept = read(out / "pairs.jsonl")
    assert kept, s
    assert all(r["prompt"][0]["content"][0] == {"type": "video"} and (out / r["videos"][0]).is_file() for r in kept)
    ds = load_pairs(out)
    assert Path(ds[0]["videos"][0]).is_file()


def test_image_generation_pickapic_rows(tmp_path, judge, sd_dir):
    prompts = tmp_path / "captions.txt"
    prompts.write_text("a red square\na blue circle\na green triangle\n")
    out = tmp_path / "out"
    s = construct("image_generation", prompts, f"diffusers:{sd_dir}?steps=2&height=32&width=32", judge, out, n=4,
                  strategy="point-only", progress=False)
    assert s["kept"] == 3 and s["judge_calls"] == {"pair": 0, "point": 12}
    rows = read(out / "pairs.jsonl")
    for r in rows:
        assert r["label_0"] == 1 and r["caption"] in prompts.read_text()
        assert r["chosen_score"] == max(r["scores"]) and r["rejected_score"] == min(r["scores"])
        assert (out / r["jpg_0"]).suffix == ".png" and (out / r["jpg_1"]).is_file()
    raw = load_pairs(out, decode=False)
    import io

    from PIL import Image

    assert Image.open(io.BytesIO(raw[0]["jpg_0"])).size == (32, 32)  # what diffusers' DPO script reads
    assert load_pairs(out)[0]["jpg_1"].size == (32, 32)
    # another output folder on the same store: no new samples or judge calls, and media paths relative to IT
    other = tmp_path / "elsewhere" / "out"
    again = construct("image_generation", prompts, f"diffusers:{sd_dir}?steps=2&height=32&width=32", judge, other,
                      n=4, strategy="point-only", progress=False, store_path=out / "construct.sqlite")
    assert again["judge_calls"] == {"pair": 0, "point": 0} and again["kept"] == 3
    assert not (other / "media").exists()
    assert [(other / r["jpg_0"]).resolve() for r in read(other / "pairs.jsonl")] == \
        [(out / r["jpg_0"]).resolve() for r in rows]


def test_ties_never_let_item_one_win(tmp_path, judge, sd_dir):
    """The random judge answers "tie" for generation pairs in both orders: every pair is dropped."""
    prompts = tmp_path / "captions.txt"
    prompts.write_text("a red square\na blue circle\n")
    out = tmp_path / "out"
    s = construct("image_generation", prompts, f"diffusers:{sd_dir}?steps=2&height=32&width=32", judge, out, n=4,
                  progress=False)
    assert s["kept"] == 0 and s["drop_reasons"] == {"no pair was decided": 2}
    assert s["judge_calls"] == {"pair": 2 * 2 * 2, "point": 0}  # each pair judged again in swapped order
    for r in read(out / "dropped.jsonl"):
        assert [(v["winner"], v["swapped"], v["decided"]) for v in r["verdicts"]] == [("tie", "tie", None)] * 2
    s = construct("image_generation", prompts, f"diffusers:{sd_dir}?steps=2&height=32&width=32", judge,
                  tmp_path / "drop", n=4, on_tie="drop", progress=False)
    assert s["judge_calls"]["pair"] == 2 * 2 and s["kept"] == 0


def test_video_generation_rows(tmp_path, judge, t2v_dir):
    from unireward.media import load_video

    prompts = tmp_path / "captions.txt"
    prompts.write_text("a red square moves left\na blue circle moves up\n")
    out = tmp_path / "out"
    # the built-in video-generation pointwise prompt writes five dimension lines first (no logprob): a user
    # template file with a score-first prompt makes this logprob judge usable for it
    family = tmp_path / "score-first.yaml"
    family.write_text("base: v1\nvideo_generation:\n  point:\n    text: \"Rate the video from {lo} to {hi} after "
                      "'Final Score:'. Caption: [{prompt}]\"\n    dims: []\n    decimals: 0\n"
                      "    logprob_prefixes: {'': 'Final Score: '}\n")
    score_first = ur.load_judge(judge.model_path, mode="logprob", family=str(family), device="cpu", dtype="float32")
    s = construct("video_generation", prompts, f"t2v:{t2v_dir}?steps=2&height=32&width=32&num_frames=4",
                  score_first, out, n=2, strategy="point-only", progress=False)
    assert s["kept"] == 2, s
    for r in read(out / "pairs.jsonl"):
        assert set(r) >= {"caption", "chosen", "rejected"} | EVIDENCE
        assert len(load_video(out / r["chosen"], num_frames=4)) == 4
    ds = load_pairs(out)
    assert Path(ds[0]["chosen"]).suffix == ".mp4"


def test_rerun_uses_the_cache_and_resume_checks_config(tmp_path, judge, vlm_dir, understanding_prompts):
    out, spec = tmp_path / "out", f"vlm:{vlm_dir}?max_new_tokens=4"
    first = construct("image_understanding", understanding_prompts, spec, judge, out, n=2, progress=False)
    rows = (out / "pairs.jsonl").read_text()
    again = construct("image_understanding", understanding_prompts, spec, judge, out, n=2, progress=False)
    assert again["judge_calls"] == {"pair": 0, "point": 0} and again["generated_prompts"] == 0
    assert again["cache_hits"] == first["judge_calls"]["pair"] + first["judge_calls"]["point"]
    assert (out / "pairs.jsonl").read_text() == rows
    resumed = construct("image_understanding", understanding_prompts, spec, judge, out, n=2, resume=True,
                        progress=False)
    assert resumed["already_done"] == 6 and resumed["processed_now"] == 0
    with pytest.raises(ValueError, match="configuration changed.*n"):
        construct("image_understanding", understanding_prompts, spec, judge, out, n=4, resume=True, progress=False)


def test_confidence_filters_reuse_the_store_and_are_part_of_the_config(tmp_path, judge, vlm_dir,
                                                                       understanding_prompts):
    out, spec = tmp_path / "out", f"vlm:{vlm_dir}?max_new_tokens=4"
    first = construct("image_understanding", understanding_prompts, spec, judge, out, n=4, progress=False)
    assert first["kept"] > 0
    # a random tiny judge is never 99.9% sure: every pair is unsure both ways and no prompt keeps a pair
    strict = construct("image_understanding", understanding_prompts, spec, judge, out, n=4, min_margin=0.999,
                       progress=False)
    # unsure pairs are judged again in swapped order (6 prompts x 2 fixed pairs), nothing else is asked again
    assert strict["judge_calls"] == {"pair": 12, "point": 0}
    again = construct("image_understanding", understanding_prompts, spec, judge, out, n=4, min_margin=0.999,
                      progress=False)
    assert again["judge_calls"] == {"pair": 0, "point": 0} and again["kept"] == 0
    assert strict["kept"] == 0 and (out / "pairs.jsonl").read_text() == ""
    assert all(r["reason"] == "no pair was decided" for r in read(out / "dropped.jsonl"))
    assert json.loads((out / "run.json").read_text())["min_margin"] == 0.999
    with pytest.raises(ValueError, match="configuration changed.*min_margin"):
        construct("image_understanding", understanding_prompts, spec, judge, out, n=4, resume=True, progress=False)
    gap = construct("image_understanding", understanding_prompts, spec, judge, out, n=4, min_gap=1e9, progress=False)
    assert gap["kept"] == 0 and "min_margin" not in json.loads((out / "run.json").read_text())


def test_bad_inputs_are_reported_and_the_job_goes_on(tmp_path, judge):
    for i in range(3):
        image(i).save(tmp_path / f"{i}.png")
    image(9).save(tmp_path / "shared.png")
    prompts = write_jsonl(tmp_path / "p.jsonl", [
        {"id": "ok", "prompt": "a red square"}, {"id": "missing-file", "prompt": "a blue circle"},
        {"id": "no-candidates", "prompt": "a cat"}, {"prompt": ""}])
    (tmp_path / "p.jsonl").write_text((tmp_path / "p.jsonl").read_text() + "not json\n")
    cands = write_jsonl(tmp_path / "c.jsonl", [
        {"id": "ok", "candidates": ["0.png", "1.png", "2.png"]},
        {"id": "missing-file", "candidates": ["0.png", "gone.png"]}])
    out = tmp_path / "out"
    s = construct("image_generation", prompts, f"jsonl:{cands}", judge, out, n=4, strategy="point-only",
                  progress=False)
    assert s["kept"] == 1 and s["failed"] == 2 and s["invalid_prompt_lines"] == 2
    failures = {f["id"]: f["error"] for f in read(out / "failures.jsonl")}
    assert "gone.png" in failures["missing-file"] and "'missing-file'" in failures["missing-file"]
    assert "no candidates" in failures["no-candidates"]
    assert any("line 4" in e and "no prompt" in e for e in s["invalid_prompts"])
    assert any("line 5" in e and "invalid JSON" in e for e in s["invalid_prompts"])
    assert read(out / "pairs.jsonl")[0]["n_candidates"] == 3  # fewer than n: all it has, recorded


def test_unparseable_answers_drop_with_reasons(tmp_path, judge_dir, understanding_prompts):
    """A random judge in generate mode writes gibberish: every prompt is dropped, nothing is defaulted."""
    import unireward as ur

    gibberish = ur.load_judge(judge_dir, mode="generate", max_new_tokens=3, device="cpu", dtype="float32")
    cands = write_jsonl(understanding_prompts.parent / "c.jsonl",
                        [{"id": f"q{i}", "candidates": ["A cat.", "A dog."]} for i in range(6)])
    s = construct("image_understanding", understanding_prompts, f"jsonl:{cands}", gibberish, tmp_path / "o", n=2,
                  limit=2, progress=False)
    assert s["kept"] == 0 and s["drop_reasons"] == {"no pair was decided": 2}
    for r in read(tmp_path / "o" / "dropped.jsonl"):
        assert r["verdicts"] == [{"a": 0, "b": 1, "winner": None, "swapped": None, "decided": None}]
        assert any("unparseable" in e for e in r["errors"]) and any("swapped order" in e for e in r["errors"])
