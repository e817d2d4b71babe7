"""Judge training: runs, learns, resumes, saves a loadable judge, and trains on exactly the inference prompt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.train.conftest import cpu_config
from unireward.records import read_records
from unireward.tasks import Form, Task


def _losses(output: Path | None = None, trainer_state: Path | None = None) -> list[tuple[int, float]]:
    path = trainer_state or max(Path(output).glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1])) \
        / "trainer_state.json"
    history = json.loads(Path(path).read_text())["log_history"]
    return [(h["step"], h["loss"]) for h in history if "loss" in h]


def test_training_runs_loss_falls_and_saves_a_judge(sft_export, base_model, tmp_path):
    import unireward as ur
    from unireward.train import train_judge

    out = tmp_path / "judge"
    # 16 rows, 4 per batch: 16 steps are 4 epochs over the same rows, so the answer loss must fall
    cfg = cpu_config(max_steps=16, learning_rate=1e-2, save_strategy="steps", save_steps=16, output_dir=str(out))
    summary = train_judge(sft_export, base_model, out, cfg)
    assert summary["steps"] == 16 and summary["family"] == "v1"
    assert summary["rows_per_task"] == {t: 4 for t in ("image_generation", "image_understanding",
                                                        "video_generation", "video_understanding")}
    losses = [loss for _, loss in _losses(out)]
    assert len(losses) == 16
    assert sum(losses[-4:]) / 4 < 0.7 * sum(losses[:4]) / 4, losses
    assert json.loads((out / "unireward.json").read_text())["family"] == "v1"
    assert (out / "checkpoint-16" / "unireward.json").is_file()  # a checkpoint is a judge too

    judge = ur.load_judge(out, mode="logprob", num_frames=4)
    assert judge.family == "v1"
    records = list(read_records(sft_export / "records.jsonl"))
    pairs = [r.judge_inputs(sft_export) for r in records if r.form == Form.PAIR]
    points = [r.judge_inputs(sft_export) for r in records if r.form == Form.POINT]
    assert all(v.winner in ("A", "B", "tie") for v in judge.compare_batch(pairs))
    for item, s in zip(points, judge.score_batch(points)):
        if item["task"] == Task.VIDEO_GENERATION:  # its answer writes five dimension lines first
            assert s.value is None and "Use mode='reason-logprob'" in s.error
        else:
            assert s.value is not None


def test_resume_continues_the_step_count(sft_export, base_model, tmp_path):
    from unireward.train import train_judge

    out = tmp_path / "judge"
    first = train_judge(sft_export, base_model, out,
                        cpu_config(max_steps=2, save_strategy="steps", save_steps=2, output_dir=str(out)))
    assert first["steps"] == 2 and (out / "checkpoint-2").is_dir()
    cfg = cpu_config(max_steps=4, save_strategy="steps", save_steps=2, output_dir=str(out))
    second = train_judge(sft_export, base_model, out, cfg, resume=True)
    assert second["steps"] == 4
    resumed = _losses(trainer_state=out / "checkpoint-4" / "trainer_state.json")
    assert [s for s, _ in resumed] == [1, 2, 3, 4]  # the resumed run logged steps 3 and 4 after the restored 1 and 2
    # the weights are restored too (transformers 5 checkpoint keys are renamed on resume): steps 3-4 have the
    # losses of an uninterrupted run, not those of a restart from the base weights
    whole = tmp_path / "whole"
    train_judge(sft_export, base_model, whole,
                cpu_config(max_steps=4, save_strategy="steps", save_steps=4, output_dir=str(whole)))
    assert [round(x, 4) for _, x in resumed[2:]] == [round(x, 4) for _, x in _losses(whole)[2:]]
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train_judge(sft_export, base_model, tmp_path / "empty", cpu_config(output_dir=str(tmp_path / "empty")),
                    resume=True)


def test_training_conversation_is_the_judge_prompt_token_for_token(sft_export, base_model):
    """Every row of every task and form: TRL's collated prompt ids == the judge's inference ids, and the
    loss covers exactly the target answer (+ end of turn)."""
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    from unireward.data.export import target_answer, template_for
    from unireward.judges.hf import HFJudge
    from unireward.train.data import load_sft_dataset

    judge = HFJudge(base_model, device="cpu", num_frames=4)
    collator = DataCollatorForVisionLanguageModeling(judge.processor, completion_only_loss=True)
    ds = load_sft_dataset(sft_export)
    records = {r.id: r for r in read_records(sft_export / "records.jsonl")}
    seen = set()
    for row in ds:
        record = records[row["id"]]
        batch = collator([{k: row[k] for k in ("prompt", "completion", "images")}])
        ids, labels = batch["input_ids"][0], batch["labels"][0]
        prompt_ids = ids[labels == -100]
        req = judge._request(record.judge_inputs(sft_export), record.form, False)
        want = judge.encode([req])
        assert prompt_ids.tolist() == want["input_ids"][0].tolist(), record.id
        answer = target_answer(record, template_for(record, "v1")) + judge.tokenizer.eos_token + "\n"
        assert ids[labels != -100].tolist() == judge.tokenizer.encode(answer, add_special_tokens=False), record.id
        if record.task.modality == "image":  # exported images are the record's own files: same pixels
            assert torch.equal(batch["pixel_values"], want["pixel_values"]), record.id
        seen.add((record.task, record.form))
    assert len(seen) == 8


def test_cli_judge_with_config_file_and_overrides(sft_export, base_model, tmp_path):
    from typer.testing import CliRunner

    from unireward.train.cli import app

    config = tmp_path / "cpu.yaml"
    config.write_text("use_cpu: true\nbf16: false\ngradient_checkpointing: false\nsave_strategy: 'no'\n"
                      "per_device_train_batch_size: 4\ngradient_accumulation_steps: 1\ndisable_tqdm: true\n")
    out = tmp_path / "judge"
    result = CliRunner().invoke(app, ["judge", "--data", str(sft_export), "--model", base_model, "--output", str(out),
                                      "--config", str(config), "--set", "max_steps=2", "--set", "learning_rate=1e-3"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index('{\n  "output"'):])
    assert summary["steps"] == 2 and (out / "model.safetensors").is_file()
    bad = CliRunner().invoke(app, ["judge", "--data", str(sft_export), "--model", base_model, "--output", str(out),
                                   "--set", "no_such_field=1"])
    assert bad.exit_code != 0 and "no_such_field" in str(bad.exception)


def test_frozen_vision_tower_and_judge_eval_callback(sft_export, base_model, synth_world, tmp_path):
    from safetensors.torch import load_file

    from unireward.train import train_judge

    out = tmp_path / "judge"
    cfg = cpu_config(max_steps=3, freeze_vision_tower=True, eval_records=str(synth_world / "test" / "records.jsonl"),
                     eval_judge_steps=2, output_dir=str(out))
    summary = train_judge(sft_export, base_model, out, cfg)
    before, after = load_file(Path(base_model) / "model.safetensors"), load_file(out / "model.safetensors")
    tower = [k for k in before if "visual." in k and "merger" not in k]
    assert tower and all(torch.equal(before[k], after[k]) for k in tower)
    assert any(not torch.equal(before[k], after[k]) for k in before if "merger" in k)  # the projector trains
    evals = [json.loads(line) for line in (out / "judge_eval.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evals] == [2, 3]
    final = summary["judge_eval"]
    assert set(final["tasks"]) == {"image_generation", "image_understanding", "video_generation",
                                   "video_understanding"}
    assert all(0 <= m["pair_acc"] <= 1 and m["n_pair"] == 1 for m in final["tasks"].values())


def test_lora_saves_a_merged_judge_and_the_adapter(sft_export, base_model, tmp_path):
    import unireward as ur
    from unireward.train import train_judge

    out = tmp_path / "judge"
    cfg = cpu_config(max_steps=2, use_peft=True, lora_r=4, lora_alpha=8, lora_target_modules=["q_proj", "v_proj"],
                     output_dir=str(out))
    train_judge(sft_export, base_model, out, cfg)
    assert (out / "adapter" / "adapter_config.json").is_file()
    assert not (out / "adapter_config.json").exists()  # the top folder is a plain merged model
    judge = ur.load_judge(out, mode="logprob", num_frames=4)
    rec = next(r for r in read_records(sft_export / "records.jsonl") if r.form == Form.PAIR)
    assert judge.compare_batch([rec.judge_inputs(sft_export)])[0].winner in ("A", "B", "tie")


def test_micro_batches_train_the_same_steps_with_less_padding(sft_export, base_model, tmp_path):
    """Length-sorted micro-batches in TRL's trainer: the logged losses and the trained weights of a padded-batch
    run, from fewer padded positions."""
    from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    from unireward.train import train_judge
    from unireward.train.data import load_sft_dataset
    from unireward.train.micro_batches import length_sorted_chunks

    runs = {}
    for k in (1, 4):
        out = tmp_path / f"k{k}"
        # plain SGD: the weights then differ by lr x the gradients' difference (Adam would magnify float noise
        # where a gradient is near zero)
        cfg = cpu_config(max_steps=3, per_device_train_batch_size=8, balance_tasks=False, micro_batches=k,
                         optim="sgd", learning_rate=0.5, output_dir=str(out), save_strategy="steps", save_steps=3)
        train_judge(sft_export, base_model, out, cfg)
        runs[k] = (_losses(out), AutoModelForImageTextToText.from_pretrained(out).state_dict())
    assert [s for s, _ in runs[4][0]] == [1, 2, 3]
    for (_, a), (_, b) in zip(runs[1][0], runs[4][0]):
        assert a == pytest.approx(b, rel=1e-4)
    base = AutoModelForImageTextToText.from_pretrained(base_model).state_dict()
    moved = 0
    for name, w in runs[1][1].items():
        assert torch.allclose(w, runs[4][1][name], atol=1e-6), name
        moved += not torch.equal(w, base[name])
    assert moved > len(base) // 2  # the steps trained (most tensors changed)

    # the rows of a mixed batch (both forms of every task) split into micro-batches with less padding
    ds = load_sft_dataset(sft_export)
    collator = DataCollatorForVisionLanguageModeling(AutoProcessor.from_pretrained(base_model),
                                                     completion_only_loss=True)
    batch = collator([{k: row[k] for k in ("prompt", "completion", "images")} for row in ds.select(range(8))])
    image_token = AutoConfig.from_pretrained(base_model).image_token_id
    parts = length_sorted_chunks(batch, 4, image_token)
    assert sum(len(p["input_ids"]) for p in parts) == 8
    assert sum(int(p["image_grid_thw"].shape[0]) for p in parts) == int(batch["image_grid_thw"].shape[0])
    padded = sum(p["input_ids"].numel() for p in parts)
    assert padded < batch["input_ids"].numel()
    assert sum(int(p["attention_mask"].sum()) for p in parts) == int(batch["attention_mask"].sum())
    with pytest.raises(ValueError, match="micro_batches must be at least 1"):
        cpu_config(micro_batches=0)


def test_micro_batches_leave_batches_they_cannot_split_whole():
    from unireward.train.micro_batches import length_sorted_chunks

    ids = torch.tensor([[5, 6, 7, 0], [5, 6, 0, 0], [5, 6, 7, 8], [5, 0, 0, 0]])
    batch = {"input_ids": ids, "attention_mask": (ids != 0).long(), "labels": ids.masked_fill(ids == 0, -100)}
    parts = length_sorted_chunks(batch, 2)
    assert [p["input_ids"].tolist() for p in parts] == [[[5, 6], [5, 0]], [[5, 6, 7, 0], [5, 6, 7, 8]]]
    assert all(p["num_items_in_batch"] == 6 for p in parts)  # the whole batch's shifted label count
    # native video inputs (or any per-batch tensor it does not know) are not divided among rows: one whole batch
    video = {**batch, "pixel_values_videos": torch.zeros(8, 12), "video_grid_thw": torch.tensor([[2, 2, 2]] * 4)}
    assert length_sorted_chunks(video, 2) == [video]
    llava = {**batch, "pixel_values": torch.zeros(4, 2, 3, 8, 8), "image_sizes": torch.tensor([[8, 8]] * 4)}
    assert length_sorted_chunks(llava, 2) == [llava]
    with pytest.raises(ValueError, match="needs mm_token_type_ids or image_token_id"):
        images = {"pixel_values": torch.zeros(4, 12), "image_grid_thw": torch.tensor([[1, 2, 2]])}
        length_sorted_chunks({**batch, **images}, 2)
