"""VLM DPO on tiny real Qwen2.5-VL and LLaVA-OneVision: two steps with images and with videos, full and LoRA;
resume gives the uninterrupted run's next loss; the output folder is a model and a construct generator; the
command line; one construct -> DPO -> construct round on real construct output."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from tests.align import test_vlm_fixtures as fixtures
from tests.construct import conftest as construct_fixtures
from unireward.align.vlm import align_vlm
from unireward.align.vlm_config import load_vlm_config
from unireward.align.vlm_trainer import LOG_FILE, vlm_trainer


image_pairs, video_pairs = fixtures.image_pairs, fixtures.video_pairs  # the shared pair folders
judge_dir, judge, vlm_dir = construct_fixtures.judge_dir, construct_fixtures.judge, construct_fixtures.vlm_dir


VISION = ("visual.", "vision_tower.")


def fast_config(out, **kw):
    """Two quick CPU steps; a large learning rate so that two steps visibly move the weights."""
    values = dict(output_dir=str(out), max_steps=2, per_device_train_batch_size=2, gradient_accumulation_steps=1,
                  learning_rate=1e-3, warmup_steps=0, gradient_checkpointing=False, logging_steps=1,
                  save_strategy="no", disable_tqdm=True, num_frames=4, max_pixels=64 * 64, lora_r=4, lora_alpha=8,
                  dataloader_num_workers=0, seed=0)
    return load_vlm_config(**{**values, **kw})


def logged_losses(out) -> dict[int, float]:
    rows = [json.loads(line) for line in (out / LOG_FILE).read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def snapshot(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("peft", [False, True], ids=["full", "lora"])
@pytest.mark.parametrize("kind", ["image", "video"])
@pytest.mark.parametrize("arch", ["qwen2_5_vl", "llava_onevision"])
def test_two_dpo_steps(arch, kind, peft, tiny_models, image_pairs, video_pairs, tmp_path):
    data = image_pairs if kind == "image" else video_pairs
    trainer = vlm_trainer(data, tiny_models[arch], tmp_path, fast_config(tmp_path, use_peft=peft))
    before = snapshot(trainer.model)
    ref_before = None if peft else snapshot(trainer.ref_model)
    trainer.train()
    losses = logged_losses(tmp_path)
    assert sorted(losses) == [1, 2] and all(math.isfinite(v) for v in losses.values())
    assert losses[1] == pytest.approx(math.log(2), abs=1e-4)  # policy == reference at the first step
    changed = {n for n, p in trainer.model.named_parameters() if not torch.equal(p, before[n])}
    assert changed
    if peft:  # only adapters train; the frozen base (the reference, adapters disabled) is untouched
        assert all("lora_" in n for n in changed)
    else:
        assert all(torch.equal(p, ref_before[n]) for n, p in trainer.ref_model.named_parameters())
        assert any(m in n for n in changed for m in VISION)  # the pixels reached the vision tower


def test_frozen_vision_tower(tiny_models, video_pairs, tmp_path):
    trainer = vlm_trainer(video_pairs, tiny_models["qwen2_5_vl"], tmp_path,
                          fast_config(tmp_path, freeze_vision_tower=True))
    before = snapshot(trainer.model)
    trainer.train()
    changed = {n for n, p in trainer.model.named_parameters() if not torch.equal(p, before[n])}
    assert not any(m in n and "merger" not in n for n in changed for m in VISION)
    assert any("merger" in n for n in changed) and any("language_model" in n for n in changed)


def test_resume_gives_the_uninterrupted_next_loss(tiny_models, image_pairs, tmp_path):
    from transformers import TrainerCallback

    class StopAt2(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 2:
                control.should_training_stop = True

    kw = dict(max_steps=4, per_device_train_batch_size=1, save_strategy="steps", save_steps=2)
    full, cut = tmp_path / "full", tmp_path / "cut"
    model = tiny_models["qwen2_5_vl"]
    align_vlm(image_pairs, model, full, fast_config(full, **kw))
    align_vlm(image_pairs, model, cut, fast_config(cut, **kw), callbacks=[StopAt2()])
    assert (cut / "checkpoint-2").is_dir() and sorted(logged_losses(cut)) == [1, 2]
    summary = align_vlm(image_pairs, model, cut, fast_config(cut, **kw), resume=True)
    assert summary["steps"] == 4
    a, b = logged_losses(full), logged_losses(cut)
    assert sorted(b) == [1, 2, 3, 4]
    assert b[3] == pytest.approx(a[3], rel=1e-5) and b[4] == pytest.approx(a[4], rel=1e-5)


def test_output_is_a_model_and_a_construct_generator(tiny_models, video_pairs, media_dir, tmp_path):
    """LoRA on LLaVA-OneVision videos, merged on save: the folder loads without peft and samples answers."""
    from safetensors.torch import load_file
    from transformers import AutoModelForImageTextToText

    from unireward.construct.generators import load_generator
    from unireward.construct.items import PromptItem

    out = tmp_path / "round1"
    base = tiny_models["llava_onevision"]
    summary = align_vlm(video_pairs, base, out, fast_config(out, use_peft=True))
    assert summary["steps"] == 2 and summary["videos"] is True
    assert (out / "adapter" / "adapter_config.json").is_file() and not (out / "adapter_config.json").exists()
    meta = json.loads((out / "unireward_align.json").read_text())
    assert meta["base_model"] == base and meta["settings"]["beta"] == 0.1
    merged, original = load_file(out / "model.safetensors"), load_file(f"{base}/model.safetensors")
    assert set(merged) == set(original) and any(not torch.equal(merged[k], original[k]) for k in original)
    AutoModelForImageTextToText.from_pretrained(out)
    gen = load_generator(f"vlm:{out}?max_new_tokens=4&num_frames=4", "video_understanding")
    item = PromptItem(id="q", prompt="What moves?", position=0, media=str(media_dir / "a.mp4"))
    assert len(gen.generate(item, 2, seed=1, media_dir=tmp_path)) == 2


def test_command_line(tiny_models, image_pairs, tmp_path):
    from typer.testing import CliRunner

    from unireward.cli import app

    out = tmp_path / "out"
    args = ["align", "vlm", "--data", str(image_pairs), "--model", tiny_models["qwen2_vl"], "--output", str(out)]
    sets = ["max_steps=1", "per_device_train_batch_size=2", "gradient_checkpointing=false", "disable_tqdm=true",
            "save_strategy=no", "max_pixels=4096"]
    missing = CliRunner().invoke(app, [*args, "--resume"])
    assert missing.exit_code != 0 and "no checkpoint-* folder" in str(missing.exception)
    result = CliRunner().invoke(app, [*args, *[x for s in sets for x in ("--set", s)]])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.rindex('{\n  "output"'):])  # after the trainer's log lines
    assert summary["steps"] == 1 and summary["rows"] == 4
    assert (out / "model.safetensors").is_file() and (out / "chat_template.jinja").is_file()
    # --data repeated: every round's pairs as one set (iterative DPO), recorded as the list of sources
    both = CliRunner().invoke(app, [*args, "--data", str(image_pairs), *[x for s in sets for x in ("--set", s)]])
    assert both.exit_code == 0, both.output
    assert json.loads(both.output[both.output.rindex('{\n  "output"'):])["rows"] == 8
    assert json.loads((out / "unireward_align.json").read_text())["data"] == [str(image_pairs)] * 2


def test_paper_defaults():
    cfg = load_vlm_config()
    assert (cfg.beta, cfg.loss_type, cfg.learning_rate, cfg.lr_scheduler_type) == (0.1, ["sigmoid"], 5e-7, "cosine")
    assert (cfg.warmup_steps, cfg.num_train_epochs, cfg.per_device_train_batch_size) == (0.3, 3.0, 1)
    assert cfg.gradient_accumulation_steps == 8 and cfg.max_length is None and not cfg.use_peft
    assert (cfg.num_frames, cfg.max_pixels, cfg.video_as) == (8, 512 * 512, "video")
    with pytest.raises(ValueError, match="video_as"):
        load_vlm_config(video_as="clips")
    with pytest.raises(ValueError, match="betta"):
        load_vlm_config(betta=0.2)


@pytest.mark.parametrize("name,accumulation", [("llava_ov_7b_image.yaml", 8), ("llava_video_7b_video.yaml", 16)])
def test_shipped_7b_recipes_load(name, accumulation):
    from importlib.resources import files

    cfg = load_vlm_config(files("unireward.align") / "configs" / name)
    assert (cfg.beta, cfg.learning_rate, cfg.warmup_steps, cfg.num_train_epochs) == (0.1, 5e-7, 0.3, 3.0)
    assert cfg.gradient_accumulation_steps == accumulation and cfg.model_init_kwargs == {"dtype": "bfloat16"}


EXPERIMENT_CONFIGS = Path(__file__).parents[2] / "experiments" / "configs"


@pytest.mark.parametrize("path", sorted(EXPERIMENT_CONFIGS.glob("small-answerer-*.yaml")), ids=lambda p: p.name)
def test_experiment_configs_load(path):
    """The proof's DPO configs (docs/align.md names them in its commands): each loads and trains on CPU."""
    cfg = load_vlm_config(path)
    assert cfg.use_cpu and cfg.max_steps > 0 and cfg.video_as in ("video", "frames")


def test_iterative_round_on_real_construct_video_pairs(judge, vlm_dir, tmp_path):
    """construct (video understanding) -> align vlm -> construct again with `vlm:<round 1>`: construct's own video
    rows train (issue 14 item 7), and round 2 samples from the aligned model."""
    from tests.construct.conftest import image, write_jsonl
    from unireward.construct.run import construct
    from unireward.media import write_video

    rows = []
    for i in range(3):
        write_video(tmp_path / f"v{i}.mp4", [image(10 * i + k) for k in range(6)])
        rows.append({"id": f"v{i}", "prompt": "What moves?", "video": f"v{i}.mp4"})
    prompts = write_jsonl(tmp_path / "p.jsonl", rows)
    spec = "?max_new_tokens=4&num_frames=4"
    s1 = construct("video_understanding", prompts, f"vlm:{vlm_dir}{spec}", judge, tmp_path / "pairs1", n=2,
                   progress=False)
    assert s1["kept"] >= 1
    round1 = tmp_path / "round1"
    summary = align_vlm(tmp_path / "pairs1", vlm_dir, round1, fast_config(round1, max_steps=1))
    assert summary["videos"] is True and summary["rows"] == s1["kept"]
    s2 = construct("video_understanding", prompts, f"vlm:{round1}{spec}", judge, tmp_path / "pairs2", n=2,
                   progress=False)
    assert s2["failed"] == 0 and s2["kept"] + s2["dropped"] == 3
