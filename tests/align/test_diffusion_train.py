"""Diffusion-DPO end to end on tiny random pipelines of each family: two steps, weights change, the output loads
in its diffusers pipeline (and as construct's generator), resume equality, latent cache, bad rows."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from unireward.align.diffusion import DiffusionDPOConfig, train_diffusion_dpo
from unireward.align.diffusion_data import PairDataError, load_pair_source
from unireward.tiny_diffusion import build_tiny_pipeline


pytest.importorskip("diffusers")
pytest.importorskip("peft")

FAST = dict(per_device_batch_size=2, gradient_accumulation_steps=1, max_steps=2, warmup_steps=0, learning_rate=1e-3,
            scale_lr=False, gradient_checkpointing=False, checkpointing_steps=0, logging_steps=0)


def _image(path: Path, seed: int, size=(40, 48)) -> None:
    Image.fromarray(np.random.RandomState(seed).randint(0, 255, (*size, 3), dtype=np.uint8)).save(path)


def _write(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


@pytest.fixture(scope="module")
def image_pairs(tmp_path_factory) -> Path:
    """Four Pick-a-Pic rows (labels 1 and 0) and one tie, construct's layout (paths relative to the file)."""
    d = tmp_path_factory.mktemp("image_pairs")
    rows = []
    for i in range(4):
        _image(d / f"{i}a.png", 2 * i)
        _image(d / f"{i}b.png", 2 * i + 1)
        rows.append({"id": f"p{i}", "caption": f"a red fox {i}", "jpg_0": f"{i}a.png", "jpg_1": f"{i}b.png",
                     "label_0": 1.0 if i % 2 else 0})
    rows.append({"id": "tie", "caption": "a tie", "jpg_0": "0a.png", "jpg_1": "0b.png", "label_0": 0.5})
    return _write(d, rows)


@pytest.fixture(scope="module")
def video_pairs(tmp_path_factory) -> Path:
    from unireward.media import write_video

    d = tmp_path_factory.mktemp("video_pairs")
    rows = []
    for i in range(2):
        for k in ("c", "r"):
            rs = np.random.RandomState(10 * i + ord(k))
            write_video(d / f"{i}{k}.mp4", [rs.randint(0, 255, (32, 32, 3), dtype=np.uint8) for _ in range(8)])
        rows.append({"id": f"v{i}", "caption": f"a cat {i}", "chosen": f"{i}c.mp4", "rejected": f"{i}r.mp4"})
    return _write(d, rows)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipelines")
    built: dict[str, Path] = {}

    def get(name: str, **kw) -> Path:
        if name not in built:
            built[name] = build_tiny_pipeline(name.split("-")[0], root / name, **kw)
        return built[name]
    return get


def _denoiser(folder: Path, attr: str) -> dict[str, torch.Tensor]:
    from diffusers import DiffusionPipeline

    return {k: v.clone() for k, v in getattr(DiffusionPipeline.from_pretrained(folder), attr).state_dict().items()}


# family, base-model name, config, image (False) or video (True), generation kwargs
CASES = [
    ("sd", "sd-v", dict(), False, dict(height=32, width=32)),  # built with a v-prediction scheduler
    ("sdxl", "sdxl-turbo", dict(), False, dict(height=32, width=32)),  # turbo: timesteps + zero-terminal SNR
    ("sd3", "sd3", dict(use_lora=True), False, dict(height=32, width=32)),
    ("t2v", "t2v", dict(num_frames=2, resolution=16, trainable="linear", per_device_batch_size=1), True,
     dict(height=16, width=16, num_frames=2)),
    ("wan", "wan", dict(use_lora=True, num_frames=5, resolution=16, per_device_batch_size=1), True,
     dict(height=16, width=16, num_frames=5)),
    pytest.param("flux", "flux", dict(use_lora=True, resolution=32), False, dict(height=32, width=32),
                 marks=pytest.mark.slow),
]


@pytest.mark.parametrize("family,name,extra,video,gen", CASES, ids=["sd-v", "sdxl-turbo", "sd3", "t2v", "wan", "flux"])
def test_two_dpo_steps_change_weights_and_the_output_loads(family, name, extra, video, gen, models, image_pairs,
                                                           video_pairs, tmp_path):
    from diffusers import DiffusionPipeline

    base = models(name, prediction_type="v_prediction" if name == "sd-v" else "epsilon")
    out = tmp_path / "out"
    data = video_pairs if video else image_pairs
    summary = train_diffusion_dpo(data, base, out, DiffusionDPOConfig(**{**FAST, **extra}))

    assert summary["family"] == family and summary["steps"] == 2 and len(summary["losses"]) == 2
    assert all(math.isfinite(x) for x in summary["losses"])
    assert summary["losses"][0] == pytest.approx(math.log(2), abs=1e-6)  # policy = reference before any update
    assert summary["losses"][1] != pytest.approx(math.log(2), abs=1e-6)
    expected_type = {"sd-v": "v_prediction", "sd3": "flow", "wan": "flow", "flux": "flow"}.get(name, "epsilon")
    assert summary["prediction_type"] == expected_type
    assert summary["turbo"] is (name == "sdxl-turbo")
    if not video:
        assert summary["pairs"] == 4 and summary["ties_skipped"] == 1

    attr = "unet" if family in ("sd", "sdxl", "t2v") else "transformer"
    before, after = _denoiser(base, attr), _denoiser(out, attr)
    assert before.keys() == after.keys()  # LoRA fused: a plain denoiser
    assert any(not torch.equal(before[k], after[k]) for k in before)

    pipe = DiffusionPipeline.from_pretrained(out)
    assert type(pipe) is type(DiffusionPipeline.from_pretrained(base))
    pipe.set_progress_bar_config(disable=True)
    result = pipe("a red fox", num_inference_steps=2, output_type="np", **gen)
    assert np.isfinite(np.asarray(result.frames if video else result.images)).all()
    if extra.get("use_lora"):
        base_pipe = DiffusionPipeline.from_pretrained(base)
        base_pipe.load_lora_weights(out / "lora")  # the adapter alone loads on the base too
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2] and {"loss", "implicit_acc", "lr", "mse_w", "ref_mse_l"} <= set(log[0])


def test_output_is_constructs_next_round_generator(models, image_pairs, tmp_path):
    from unireward.construct.generators import load_generator
    from unireward.construct.items import PromptItem

    out = tmp_path / "out"
    train_diffusion_dpo(image_pairs, models("sd"), out, DiffusionDPOConfig(**{**FAST, "max_steps": 1}))
    gen = load_generator(f"diffusers:{out}", "image_generation", steps=2, height=32, width=32, device="cpu")
    cands = gen.generate(PromptItem(id="q", prompt="a red fox", position=0), 2, seed=0, media_dir=tmp_path / "media")
    assert len(cands) == 2 and all(Path(c.path).is_file() for c in cands)


def test_resume_gives_the_same_next_step_loss(models, image_pairs, tmp_path):
    from typer.testing import CliRunner

    from unireward.cli import app

    args = ["align", "diffusion", "--data", str(image_pairs), "--model", str(models("sd")), "--output",
            str(tmp_path / "a")] + [x for k, v in {**FAST, "max_steps": 3, "checkpointing_steps": 1}.items()
                                    for x in ("--set", f"{k}={v}")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    full = json.loads((tmp_path / "a" / "unireward_align.json").read_text())["losses"]
    assert sorted(p.name for p in (tmp_path / "a").glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]

    shutil.copytree(tmp_path / "a" / "checkpoint-1", tmp_path / "b" / "checkpoint-1")  # a run killed after step 1
    cfg = DiffusionDPOConfig(**{**FAST, "max_steps": 3, "checkpointing_steps": 1})
    resumed = train_diffusion_dpo(image_pairs, models("sd"), tmp_path / "b", cfg, resume=True)
    assert resumed["resumed_from"] == 1
    assert resumed["losses"] == full[1:]  # bit-identical: weights, optimizer, data order and noise restored

    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train_diffusion_dpo(image_pairs, models("sd"), tmp_path / "c", cfg, resume=True)


def test_cached_latents_give_the_same_losses(models, image_pairs, tmp_path):
    plain = train_diffusion_dpo(image_pairs, models("sd"), tmp_path / "a", DiffusionDPOConfig(**FAST))
    cached = train_diffusion_dpo(image_pairs, models("sd"), tmp_path / "b",
                                 DiffusionDPOConfig(**FAST, cache_latents=True))
    assert cached["latents_encoded"] == 8 and len(list((tmp_path / "b" / "latent_cache").glob("*.pt"))) == 8
    assert cached["losses"] == pytest.approx(plain["losses"], abs=1e-6)


# ---------------------------------------------------------------------- bad rows
def test_bad_rows_are_named(image_pairs, tmp_path, models):
    d = tmp_path / "bad"
    d.mkdir()
    _image(d / "ok.png", 0)
    data = (image_pairs / "0a.png").read_bytes()
    (d / "cut.png").write_bytes(data[: len(data) // 3])
    rows = [{"id": "good", "caption": "c", "jpg_0": "ok.png", "jpg_1": "ok.png", "label_0": 1},
            {"id": "gone", "caption": "c", "jpg_0": "ok.png", "jpg_1": "missing.png", "label_0": 1},
            {"id": "cut", "caption": "c", "jpg_0": "cut.png", "jpg_1": "ok.png", "label_0": 0},
            {"id": "lab", "caption": "c", "jpg_0": "ok.png", "jpg_1": "ok.png", "label_0": 2}]
    _write(d, rows)
    with pytest.raises(PairDataError) as err:
        train_diffusion_dpo(d, models("sd"), tmp_path / "out", DiffusionDPOConfig(**FAST))
    msg = str(err.value)
    assert "3 bad row(s)" in msg
    assert "line 2 (id 'gone'): jpg_1 file not found" in msg
    assert "line 3 (id 'cut'): chosen image cannot be read as an image" in msg or "line 3 (id 'cut')" in msg
    assert "line 4 (id 'lab'): label_0 must be 1" in msg and "got 2" in msg
    kept = load_pair_source(d, skip_bad_rows=True)
    assert len(kept) == 1 and len(kept.bad_rows) == 3


def test_labels_order_the_pair(image_pairs):
    src = load_pair_source(image_pairs)
    assert src.kind == "image" and src.ties_skipped == 1
    first = src.rows[0]  # p0 has label_0 = 0: jpg_1 is the chosen image
    assert first.chosen.endswith("0b.png") and first.rejected.endswith("0a.png")
    assert src.rows[1].chosen.endswith("1a.png")


def test_pickapic_parquet_bytes_and_a_corrupt_row(models, image_pairs, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    good = (image_pairs / "1a.png").read_bytes()
    table = pa.table({"caption": ["a", "b", "c"], "jpg_0": [good, good, b"garbage" * 20], "jpg_1": [good] * 3,
                      "label_0": [1.0, 0.0, 1.0], "ranking_id": [7, 8, 9]})
    pq.write_table(table, tmp_path / "pickapic.parquet")
    src = load_pair_source(tmp_path / "pickapic.parquet")
    assert len(src) == 3 and not src.bad_rows
    cfg = DiffusionDPOConfig(**{**FAST, "per_device_batch_size": 3}, cache_latents=True)
    with pytest.raises(PairDataError, match=r"pickapic.parquet row 2 \(id 9\): chosen cannot be read as an image"):
        train_diffusion_dpo(tmp_path / "pickapic.parquet", models("sd"), tmp_path / "out", cfg)


def test_timestep_range_limits_the_noise_levels_drawn(models):
    from diffusers import DiffusionPipeline

    from unireward.align.diffusion_models import Family, NoiseSettings

    gen = torch.Generator().manual_seed(0)
    sd = DiffusionPipeline.from_pretrained(models("sd-v"))
    t = Family(sd, NoiseSettings(timestep_range=(0.5, 1.0)), torch.device("cpu")).sample_timesteps(2000, gen)
    assert t.min() >= 500 and t.max() == 999 and t.dtype == torch.int64
    assert Family(sd, NoiseSettings(), torch.device("cpu")).sample_timesteps(2000, gen).min() < 10
    flow = Family(DiffusionPipeline.from_pretrained(models("sd3")), NoiseSettings(timestep_range=(0.0, 0.25),
                  flow_shift=1.0), torch.device("cpu"))
    sigma = flow.sample_timesteps(2000, gen)
    assert 0.0 <= sigma.min() and sigma.max() <= 0.25
    with pytest.raises(ValueError, match="timestep_range does not apply to turbo"):
        Family(sd, NoiseSettings(turbo=True, timestep_range=(0.5, 1.0)), torch.device("cpu"))
    with pytest.raises(ValueError, match="0 <= lo < hi <= 1"):
        DiffusionDPOConfig(timestep_range=(0.6, 0.4))


def test_dropout_is_disabled_so_policy_equals_reference_at_the_start(models, video_pairs, tmp_path):
    from diffusers import DiffusionPipeline

    pipe = DiffusionPipeline.from_pretrained(models("t2v"))
    torch.manual_seed(0)
    with torch.no_grad():  # a trained model's temporal convs are not the identity they start as
        for name, p in pipe.unet.named_parameters():
            if "temp_convs" in name:
                p.add_(0.3 * torch.randn_like(p))
    base = tmp_path / "t2v-trained"
    pipe.save_pretrained(base)
    extra = dict(num_frames=2, resolution=16, per_device_batch_size=1, max_steps=1)
    kept = train_diffusion_dpo(video_pairs, base, tmp_path / "a", DiffusionDPOConfig(**{**FAST, **extra}))
    assert kept["losses"][0] == pytest.approx(math.log(2), abs=1e-6)
    noisy = train_diffusion_dpo(video_pairs, base, tmp_path / "b",
                                DiffusionDPOConfig(**{**FAST, **extra, "disable_dropout": False}))
    assert noisy["losses"][0] != pytest.approx(math.log(2), abs=1e-3)  # UNet3D's p=0.1 temporal dropout


def test_video_frames_default_to_the_count_the_model_records(models, video_pairs, tmp_path):
    base = tmp_path / "t2v"
    shutil.copytree(models("t2v"), base)
    (base / "unireward_align.json").write_text(json.dumps({"inference": {"num_frames": 2}}))
    extra = dict(resolution=16, per_device_batch_size=1, max_steps=1)
    summary = train_diffusion_dpo(video_pairs, base, tmp_path / "out", DiffusionDPOConfig(**{**FAST, **extra}))
    assert summary["num_frames"] == 2
