"""Training exports: target answers round-trip through the parsers; builds in three formats; TRL trains on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from unireward.data.cli import app
from unireward.data.export import ExportError, build, load_trl_dataset, target_answer, template_for
from unireward.records import Record, read_records
from unireward.tasks import Form, Score, Task, Verdict
from unireward.templates import list_templates, parse_answer
from unireward.templates.video_generation import FEEDBACK_DIMS


RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "unifiedreward.yaml"


def _record(task: Task, form: Form, label: dict, rationale: str | None = None) -> Record:
    if task.is_generation:
        media, cands = [], [{"media": [{"image": f"m{k}.jpg"}]} for k in range(2 if form == Form.PAIR else 1)]
    else:
        media, cands = [{"image": "m.jpg"}], [{"text": f"answer {k}"} for k in range(2 if form == Form.PAIR else 1)]
    return Record(id="x", source="t", task=task, form=form, prompt="a red fox", candidates=cands, media=media,
                  label=label, rationale=rationale)


def _labels(t) -> list[tuple[dict, str | None]]:
    """Labels this template can express, each with the rationale it needs (or None)."""
    rationale = "Image 1 shows the fox clearly; the second is blurred." if t.parser == "think" else None
    if t.form == Form.PAIR:
        if t.parser == "pair_scores":
            return [({"winner": "A", "dims": {d: 0.7 for d in t.dims}}, None),
                    ({"winner": "B", "dims": dict(zip(t.dims, (0.2, 0.6, 0.3), strict=True))}, None),
                    ({"winner": "tie", "dims": {d: 0.5 for d in t.dims}}, None)]
        return [({"winner": w}, rationale) for w in t.phrases]
    if t.parser == "dim_scores":
        return [({"score": 3.5, "scale": [1, 5], "dims": dict(zip(t.dims, (3.2, 4.0, 3.3), strict=True))}, None)]
    lo, hi = t.scale
    label = {"score": round(lo + 0.667 * (hi - lo), 2), "scale": [lo, hi]}
    if t.task == Task.IMAGE_GENERATION:
        label["elements"] = {"fox (animal)": 1, "snow (object)": 0}
    if t.dims:
        label["dims"] = dict(zip(t.dims, (3, 2, 4, 1, 3), strict=True))
    return [(label, None), ({"score": lo + 1, "scale": [lo, lo + 2]}, "Looks right.\nSecond line of reasons.")]


TEMPLATES = list_templates()


@pytest.mark.parametrize("t", TEMPLATES, ids=[f"{t.family}-{t.task}-{t.form}" for t in TEMPLATES])
def test_target_answer_round_trips_through_the_parser(t):
    for label, rationale in _labels(t):
        record = _record(t.task, t.form, label, rationale)
        template = template_for(record, t.family)
        text = target_answer(record, template)
        parsed = parse_answer(template, text)
        if t.form == Form.PAIR:
            assert isinstance(parsed, Verdict) and parsed.winner == label["winner"], text
            if t.parser == "phrase":
                assert text.endswith(t.phrases[label["winner"]] + ".")
        else:
            assert isinstance(parsed, Score) and parsed.value is not None, (text, parsed.error)
            if t.parser == "final_score":
                assert parsed.value == label["score"] and parsed.scale == tuple(label["scale"])
                assert parsed.elements == label.get("elements", {})
                assert parsed.dims == (label.get("dims", {}) if t.dims else {})
            else:
                assert parsed.dims == label["dims"]
        if rationale:  # reasons come first (inside <think> for the think family)
            assert text.startswith(("<think>\n" if t.parser == "think" else "") + rationale)


def test_exact_v1_strings():
    pair = _record(Task.IMAGE_GENERATION, Form.PAIR, {"winner": "A"})
    assert target_answer(pair, template_for(pair, "v1")) == "Image 1 is better."
    assert target_answer(pair, template_for(pair, "v1-llava")) == "Image 1 is better than Image 2."
    tie = _record(Task.VIDEO_GENERATION, Form.PAIR, {"winner": "tie"})
    assert target_answer(tie, template_for(tie, "v1")) == "Both videos are equally good."
    vu = _record(Task.VIDEO_UNDERSTANDING, Form.PAIR, {"winner": "B"})
    assert target_answer(vu, template_for(vu, "v1")) == "Overall Judgment: Answer 2 is better than Answer 1."
    em = _record(Task.IMAGE_GENERATION, Form.POINT, {"score": 3.67, "scale": [1, 5],
                                                     "elements": {"puffin (animal)": 1, "booth (object)": 0}})
    assert target_answer(em, template_for(em, "v1")) == "puffin (animal): 1\nbooth (object): 0\nFinal Score: 3.67"
    vf = _record(Task.VIDEO_GENERATION, Form.POINT, {"score": 5.8, "scale": [1, 10],
                                                     "dims": dict(zip(FEEDBACK_DIMS, (3, 2, 3, 3, 2), strict=True))})
    assert target_answer(vf, template_for(vf, "v1")) == ("visual quality: 3\ntemporal consistency: 2\n"
                                                         "dynamic degree: 3\ntext-to-video alignment: 3\n"
                                                         "factual consistency: 2\nFinal Score: 5.8")
    acs = _record(Task.IMAGE_GENERATION, Form.POINT, {"score": 3, "scale": [1, 5],
                                                      "dims": {"Alignment": 3, "Coherence": 2.5, "Style": 4}})
    assert target_answer(acs, template_for(acs, "2.0")) == ("Alignment Score (1-5): 3\nCoherence Score (1-5): 2.5\n"
                                                            "Style Score (1-5): 4")


def test_rationale_comes_first_and_a_matching_last_line_is_not_repeated():
    r = _record(Task.IMAGE_UNDERSTANDING, Form.POINT, {"score": 85, "scale": [0, 100]},
                rationale="Accurate and concise.\nFinal Score: 85")
    assert target_answer(r, template_for(r, "v1")) == "Accurate and concise.\nFinal Score: 85"
    r = _record(Task.IMAGE_UNDERSTANDING, Form.PAIR, {"winner": "B"}, rationale="Therefore, Response 2 is better.")
    assert target_answer(r, template_for(r, "v1")) == "Therefore, Response 2 is better.\nAnswer 2 is better."


def test_scale_of_the_record_goes_into_the_prompt():
    r = _record(Task.IMAGE_UNDERSTANDING, Form.POINT, {"score": 7, "scale": [1, 10]})
    t = template_for(r, "v1")
    assert t.scale == (1, 10) and "From 1 to 10" in t.render(prompt="q", answer="a")


@pytest.mark.parametrize("task,form,label,family,rationale,match", [
    (Task.IMAGE_UNDERSTANDING, Form.PAIR, {"winner": "tie"}, "v1", None, "no answer for winner 'tie'"),
    (Task.IMAGE_GENERATION, Form.PAIR, {"winner": "A"}, "think", None, "needs a rationale"),
    (Task.IMAGE_GENERATION, Form.PAIR, {"winner": "A"}, "2.0", None, r"needs label.dims"),
    (Task.IMAGE_GENERATION, Form.PAIR, {"winner": "B", "dims": {"Alignment": .6, "Coherence": .6, "Style": .6}},
     "2.0", None, "disagree with winner 'B'"),
    (Task.IMAGE_GENERATION, Form.POINT, {"score": 3.0, "scale": [1, 5]}, "2.0", None, r"missing \['Alignment'"),
    (Task.VIDEO_GENERATION, Form.POINT, {"score": 4}, "v1", None, None),
    (Task.VIDEO_UNDERSTANDING, Form.POINT, {"dims": {"a": 1}}, "v1", None, "no label.score"),
])
def test_labels_a_family_cannot_express_are_refused(task, form, label, family, rationale, match):
    r = _record(task, form, label, rationale)
    if match is None:  # a score without a scale is read on the template's scale
        assert target_answer(r, template_for(r, family)).endswith("Final Score: 4")
        return
    with pytest.raises(ExportError, match=match):
        target_answer(r, template_for(r, family))


# ---------------------------------------------------------------------------------------------------------- builds


@pytest.fixture(scope="module")
def builds(converted, tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    root, _ = converted
    out = tmp_path_factory.mktemp("builds")
    return {fmt: (out / fmt, build(RECIPE, out / fmt, fmt=fmt, root=root, progress=False))
            for fmt in ("trl", "llamafactory", "llava")}


def _rows(folder: Path) -> list[dict]:
    if (folder / "train.jsonl").exists():
        return [json.loads(line) for line in (folder / "train.jsonl").read_text().splitlines()]
    return json.loads((folder / "train.json").read_text())


IMAGES_PER_ROW = {"image_generation/pair": 2, "image_generation/point": 1, "image_understanding/pair": 1,
                  "image_understanding/point": 1, "video_generation/pair": 16, "video_generation/point": 8,
                  "video_understanding/pair": 8, "video_understanding/point": 8}


def test_build_from_the_shipped_recipe(builds, converted):
    folder, summary = builds["trl"]
    _, conv = converted
    available = sum(s["records_written"] for s in conv.values()) - conv["hpdv2"]["records_written"] \
        - conv["pickapic"]["records_written"]  # the recipe mixes UnifiedReward's eight sources
    assert summary["mixture"]["total"] == available == summary["written"] + summary["skipped"]
    assert summary["skipped_examples"] == [{"id": "llava_critic/pair/vlfeedback_2", "reason": (
        "llava_critic/pair/vlfeedback_2: the v1 image_understanding pairwise template has no answer for winner "
        "'tie' (it offers ['A', 'B'])")}]
    short = {e["name"]: e["short"] for e in summary["mixture"]["entries"]}
    assert short["oip"] == 25000 - 4 and short["llava_critic[point]"] == 25000 - 3
    rows = _rows(folder)
    records = {r.id: r for r in read_records(folder / "records.jsonl")}
    assert len(rows) == len(records) == summary["written"]
    for row in rows:
        record = records[row["id"]]
        assert len(row["images"]) == IMAGES_PER_ROW[f"{record.task}/{record.form}"], row["id"]
        assert all((folder / p).is_file() for p in row["images"])
        user, assistant = row["messages"]
        assert (user["role"], assistant["role"]) == ("user", "assistant")
        template = template_for(record, "v1")
        assert user["content"] == template.render(
            prompt=record.prompt, answer=record.candidates[0].get("text"),
            answer_a=record.candidates[0].get("text"), answer_b=record.candidates[-1].get("text"))
        parsed = parse_answer(template, assistant["content"])
        assert (parsed.winner if record.form == Form.PAIR else parsed.value) == \
            (record.label.get("winner") if record.form == Form.PAIR else record.label["score"])
    assert all(Path(folder / p).resolve().is_file() for r in records.values() for p in _paths(r))


def _paths(record: Record) -> list[str]:
    items = record.media + [m for c in record.candidates for m in c.get("media", [])]
    return [p for m in items for p in (m["frames"] if "frames" in m else [next(iter(m.values()))])]


def test_video_frames_are_sampled_uniformly_from_frame_folders(builds, converted):
    folder, _ = builds["trl"]
    root, _ = converted
    row = next(r for r in _rows(folder) if r["id"] == "videofeedback/2000118")
    src = next(r for r in read_records(root / "videofeedback" / "records.jsonl") if r.id == row["id"])
    frames = src.candidates[0]["media"][0]["frames"]  # 10 frames -> indices 0, 1, 3, 4, 5, 6, 8, 9
    assert [Path(p).name for p in row["images"]] == [Path(frames[i]).name for i in (0, 1, 3, 4, 5, 6, 8, 9)]


def test_llamafactory_and_llava_formats(builds):
    folder, summary = builds["llamafactory"]
    info = json.loads((folder / "dataset_info.json").read_text())
    assert info["unireward"]["file_name"] == "train.json" and info["unireward"]["formatting"] == "sharegpt"
    for row in _rows(folder):
        user = row["messages"][0]["content"]
        assert user.count("<image>") == len(row["images"]) and user.startswith("<image>" * len(row["images"]))
    folder, _ = builds["llava"]
    for row in _rows(folder):
        human, gpt = row["conversations"]
        images = [row["image"]] if "image" in row else row["images"]
        assert (human["from"], gpt["from"]) == ("human", "gpt")
        assert human["value"].startswith("<image>\n" * len(images)) and human["value"].count("<image>") == len(images)
        assert ("image" in row) == (len(images) == 1)
    assert _rows(builds["trl"][0])[0]["id"] == _rows(folder)[0]["id"]  # same seed, same order in every format


def test_build_is_deterministic(builds, converted, tmp_path):
    root, _ = converted
    build(RECIPE, tmp_path / "again", fmt="trl", root=root, progress=False)
    assert (tmp_path / "again" / "train.jsonl").read_text() == (builds["trl"][0] / "train.jsonl").read_text()


def test_build_cli_rejects_unknown_format_and_family(converted, tmp_path):
    root, _ = converted
    runner = CliRunner()
    r = runner.invoke(app, ["build", str(RECIPE), "--output", str(tmp_path), "--format", "csv", "--root", str(root)])
    assert r.exit_code == 2 and "valid formats: trl, llamafactory, llava" in r.stderr
    r = runner.invoke(app, ["build", str(RECIPE), "--output", str(tmp_path), "--family", "v9", "--root", str(root)])
    assert r.exit_code == 2 and "unknown template family 'v9'" in r.stderr


def test_sft_trainer_takes_the_trl_export_and_trains_one_step(builds, tmp_path):
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import SFTConfig, SFTTrainer

    from unireward.tiny_models import build_qwen2_5_vl

    folder, summary = builds["trl"]
    ds = load_trl_dataset(folder)
    assert len(ds) == summary["written"] and isinstance(ds[0]["images"][0], Image.Image)
    path = build_qwen2_5_vl(tmp_path / "m")
    processor = AutoProcessor.from_pretrained(path)
    model = AutoModelForImageTextToText.from_pretrained(path)
    args = SFTConfig(output_dir=str(tmp_path / "out"), use_cpu=True, bf16=False, gradient_checkpointing=False,
                     report_to="none", save_strategy="no", max_length=None, max_steps=1,
                     per_device_train_batch_size=2)
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=processor)
    for i in range(len(ds)):  # the collator (chat template + processor) accepts every row
        batch = trainer.data_collator([ds[i]])
        assert batch["input_ids"].shape[0] == 1 and batch["pixel_values"].shape[0] > 0
    video_pair = next(i for i, r in enumerate(ds) if r["id"].startswith("videodpo/"))
    trainer.train_dataset = ds.select([video_pair, 0])
    result = trainer.train()
    assert result.global_step == 1 and result.training_loss > 0


def test_stats_on_a_converted_source_and_a_build(converted, builds, tmp_path):
    root, _ = converted
    result = CliRunner().invoke(app, ["stats", str(root / "hpd"), "--plot", str(tmp_path / "hpd.png")])
    assert result.exit_code == 0, result.output
    s = json.loads(result.stdout)
    assert s["records"] == 3 and s["by_source"] == {"hpd": 3}
    assert s["winners"]["source:hpd"] == {"A": 1, "B": 1, "tie": 1}
    assert (tmp_path / "hpd.png").read_bytes().startswith(b"\x89PNG")
    from unireward.data.stats import stats

    s = stats(builds["trl"][0])
    assert s["records"] == builds["trl"][1]["written"]
    assert s["by_task_form"] == builds["trl"][1]["by_task_form"]
    hist = s["score_histograms"]["videofeedback/video_generation [1, 10]"]
    assert hist["n"] == 2 and hist["counts"][5] == 1 and hist["counts"][9] == 1 and hist["mean"] == 7.9
