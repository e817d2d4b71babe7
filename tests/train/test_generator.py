"""The small generators of the synthetic world (`unireward.train.generator`): a word-level tokenizer, a few real
VAE and denoiser steps at tiny settings, a loss that falls, an exact resume, and an output folder that loads in
its diffusers pipeline and serves as construct's generator."""

from __future__ import annotations

import json

import pytest
import torch

from unireward.train.generator import GeneratorSettings, batch_at, encode_media, train_generator, world_tokenizer


def tiny(kind: str, **kw) -> GeneratorSettings:
    base = dict(kind=kind, size=16, frames=4, vae_steps=2, steps=4, batch=4, width=8, text_width=16,
                probe_every=2, probe_n=2, sample_steps=2, save_every=2, warmup=1)
    return GeneratorSettings(**{**base, **kw})


def test_tokenizer_makes_every_caption_word_one_token(tmp_path):
    tok = world_tokenizer(tmp_path / "tok")
    ids = tok("a large red circle to the left of a blue square").input_ids
    assert tok.convert_ids_to_tokens(ids)[1:-1] == [w + "</w>" for w in
                                                     "a large red circle to the left of a blue square".split()]
    assert len(tok("three blue squares", padding="max_length").input_ids) == tok.model_max_length == 16


def test_batches_are_train_captions_with_correct_renders_and_repeat_exactly():
    from unireward.synth import Oracle
    from unireward.synth.generate import split_of

    s = GeneratorSettings(kind="image", batch=3)
    caps, x = batch_at(s, 5)
    assert x.shape == (3, 3, 48, 48) and -1.0 <= x.min() and x.max() <= 1.0
    assert all(split_of(c) == "train" for c in caps)
    img = ((x[0].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()
    assert Oracle().score_image(caps[0], img)[0] == 1.0
    again, y = batch_at(s, 5)
    assert again == caps and torch.equal(x, y)
    caps_v, v = batch_at(GeneratorSettings(kind="video", batch=2, frames=4), 0)
    assert v.shape == (2, 3, 4, 32, 32)


def test_layout_first_steps_draw_only_captions_that_place_one_object():
    s = GeneratorSettings(kind="image", batch=16, layout_first=3)
    assert all(" at the " in c for step in range(3) for c in batch_at(s, step)[0])
    assert not all(" at the " in c for c in batch_at(s, 3)[0])  # then the usual mix
    assert batch_at(s, 3)[0] == batch_at(GeneratorSettings(kind="image", batch=16), 3)[0]
    with pytest.raises(ValueError, match="layout_first applies to image captions"):
        GeneratorSettings(kind="video", layout_first=10)


def test_settings_reject_bad_kind_and_size():
    with pytest.raises(ValueError, match="kind must be 'image' or 'video'"):
        GeneratorSettings(kind="audio")
    with pytest.raises(ValueError, match="multiple of 16"):
        GeneratorSettings(size=40)


def test_image_generator_loss_falls_and_output_loads_as_pipeline_and_generator(tmp_path):
    from diffusers import DiffusionPipeline, StableDiffusionPipeline

    from unireward.construct.generators import load_generator
    from unireward.construct.items import PromptItem
    from unireward.tasks import Task

    out = tmp_path / "t2i"
    s = tiny("image", vae_steps=20, steps=60, probe_every=20, batch=8)
    summary = train_generator(out, s, log=lambda _: None)
    losses = [h["loss"] for h in summary["history"]]
    assert losses[-1] < 0.9 * losses[0]  # ε-prediction starts learning the (flat) world's latents at once
    assert {"acc", "fraction"} <= set(summary["probe"])
    assert set(summary["probe"]["kinds"]) >= {"color", "shape"}  # per element kind, where position failures show
    pipe = DiffusionPipeline.from_pretrained(out)
    assert isinstance(pipe, StableDiffusionPipeline)
    with torch.no_grad():  # the stored scaling_factor gives latents of unit variance, as the noise schedule expects
        z = encode_media(pipe.vae, batch_at(s, 10**7)[1])
    assert abs(z.std().item() - 1.0) < 1e-3
    assert json.loads((out / "unireward_align.json").read_text())["inference"] == {
        "num_inference_steps": 2, "guidance_scale": 3.0}
    gen = load_generator(f"diffusers:{out}", Task.IMAGE_GENERATION)
    cands = gen.generate(PromptItem(id="p", prompt="a red circle", position=0), 2, seed=0, media_dir=tmp_path / "m")
    from PIL import Image

    assert [Image.open(c.path).size for c in cands] == [(16, 16), (16, 16)]


def test_video_generator_resumes_exactly_and_samples_its_frame_count(tmp_path):
    from unireward.construct.generators import load_generator
    from unireward.construct.items import PromptItem
    from unireward.media import load_video
    from unireward.tasks import Task

    s = tiny("video", vae_steps=3, probe_every=1)  # saved at step 2, stopped at step 3
    full = train_generator(tmp_path / "full", s, log=lambda _: None)

    def stop_at_3(line: str) -> None:
        if line.startswith("{") and json.loads(line)["step"] == 3 and "mse" not in line:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_generator(tmp_path / "cut", s, log=stop_at_3)
    lines: list[str] = []
    resumed = train_generator(tmp_path / "cut", s, log=lines.append)
    assert "resumed at step 2" in lines
    assert resumed["history"][-1]["loss"] == full["history"][-1]["loss"]
    from safetensors.torch import load_file

    a = load_file(str(tmp_path / "full" / "unet" / "diffusion_pytorch_model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "unet" / "diffusion_pytorch_model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    gen = load_generator(f"t2v:{tmp_path / 'full'}", Task.VIDEO_GENERATION)
    cands = gen.generate(PromptItem(id="p", prompt="a red circle moves left", position=0), 1, seed=0,
                         media_dir=tmp_path / "m")
    assert len(load_video(cands[0].path, num_frames=4)) == 4


def test_video_generator_reuses_an_image_generators_vae(tmp_path):
    from diffusers import DiffusionPipeline

    train_generator(tmp_path / "t2i", tiny("image", vae_steps=3, steps=1), log=lambda _: None)
    s = tiny("video", steps=2, vae_from=str(tmp_path / "t2i"))
    lines: list[str] = []
    summary = train_generator(tmp_path / "t2v", s, log=lines.append)
    assert summary["vae"]["steps"] == 0 and not any('"mse"' in line for line in lines)  # no VAE stage ran
    image_vae, video_vae = (DiffusionPipeline.from_pretrained(tmp_path / n).vae for n in ("t2i", "t2v"))
    a, b = image_vae.state_dict(), video_vae.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with torch.no_grad():  # the latent scale is measured again on clips
        z = encode_media(video_vae, batch_at(s, 10**7)[1])
    assert abs(z.std().item() - 1.0) < 1e-3
    with pytest.raises(ValueError, match="trained at 16 px, this generator is 32 px"):
        train_generator(tmp_path / "x", tiny("video", size=32, vae_from=str(tmp_path / "t2i")), log=lambda _: None)
    with pytest.raises(FileNotFoundError, match="no VAE at"):
        train_generator(tmp_path / "y", tiny("video", vae_from=str(tmp_path / "nothing")), log=lambda _: None)


def test_cli_trains_a_generator(tmp_path):
    from typer.testing import CliRunner

    from unireward.cli import app

    args = ["train", "generator", "--output", str(tmp_path / "g"), "--kind", "image"]
    for k, v in dict(size=16, vae_steps=1, steps=2, batch=2, width=8, text_width=16, probe_every=2, probe_n=1,
                     sample_steps=1, warmup=1).items():
        args += ["--set", f"{k}={v}"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output[res.output.index("{\n"):])["steps"] == 2
    bad = CliRunner().invoke(app, ["train", "generator", "--output", str(tmp_path / "h"), "--set", "colour=red"])
    assert bad.exit_code != 0 and "unknown settings" in bad.output


def test_sd3_generator_trains_flow_matching_and_samples_through_construct_and_align(tmp_path):
    """The MM-DiT generator: a velocity loss that falls, a folder without T5 that our loaders open (as diffusers
    asks, with text_encoder_3=None), its short zero-token padding recorded and used by construct's sampler."""
    from unireward.construct.generators import load_generator, load_pipeline
    from unireward.construct.items import PromptItem
    from unireward.tasks import Task

    out = tmp_path / "sd3"
    s = tiny("image", denoiser="sd3", vae_steps=20, steps=60, probe_every=20, batch=8)
    summary = train_generator(out, s, log=lambda _: None)
    losses = [h["loss"] for h in summary["history"]]
    assert losses[-1] < 0.9 * losses[0]
    pipe = load_pipeline(out)
    assert type(pipe).__name__ == "StableDiffusion3Pipeline" and pipe.text_encoder_3 is None
    with torch.no_grad():  # SD3 decodes z / scale + shift: the stored pair centres and normalises the latents
        z = encode_media(pipe.vae, batch_at(s, 10**7)[1])
    assert abs(z.mean().item()) < 1e-3 and abs(z.std().item() - 1.0) < 1e-3
    assert json.loads((out / "unireward_align.json").read_text())["inference"] == {
        "num_inference_steps": 2, "guidance_scale": 3.0, "max_sequence_length": 1}
    gen = load_generator(f"diffusers:{out}", Task.IMAGE_GENERATION)
    assert gen._call_kwargs()["max_sequence_length"] == 1
    cands = gen.generate(PromptItem(id="p", prompt="a red circle", position=0), 2, seed=0, media_dir=tmp_path / "m")
    from PIL import Image

    assert [Image.open(c.path).size for c in cands] == [(16, 16), (16, 16)]
    from unireward.align.diffusion import DiffusionDPOConfig, train_diffusion_dpo
    from unireward.align.diffusion_models import Family, NoiseSettings

    text = Family(pipe, NoiseSettings(), torch.device("cpu"), 1).encode_text(["a red circle"], (16, 16))
    assert text["encoder_hidden_states"].shape[1] == 16 + 1  # CLIP tokens + one zero "T5" token, not 256
    (tmp_path / "pairs").mkdir()
    (tmp_path / "pairs" / "pairs.jsonl").write_text(json.dumps({"caption": "a red circle", "jpg_0": cands[0].path,
                                                      "jpg_1": cands[1].path, "label_0": 1}) + "\n")
    cfg = DiffusionDPOConfig(per_device_batch_size=1, max_steps=1, warmup_steps=0, scale_lr=False,
                             gradient_checkpointing=False, checkpointing_steps=0, logging_steps=0)
    aligned = train_diffusion_dpo(tmp_path / "pairs", out, tmp_path / "aligned", cfg)
    assert aligned["family"] == "sd3" and aligned["inference"]["max_sequence_length"] == 1
    assert load_generator(f"diffusers:{tmp_path / 'aligned'}", Task.IMAGE_GENERATION)._call_kwargs() == \
        gen._call_kwargs()
    with pytest.raises(ValueError, match="'sd3' is an image model"):
        GeneratorSettings(kind="video", denoiser="sd3")


def test_sd3_generator_with_a_t5_encoder_saves_loads_and_samples_with_its_16_tokens(tmp_path):
    from unireward.construct.generators import load_generator, load_pipeline
    from unireward.construct.items import PromptItem
    from unireward.tasks import Task

    out = tmp_path / "sd3-t5"
    train_generator(out, tiny("image", denoiser="sd3", t5=True, vae_steps=2, steps=2), log=lambda _: None)
    pipe = load_pipeline(out)
    assert type(pipe.text_encoder_3).__name__ == "T5EncoderModel"
    assert pipe.tokenizer_3.convert_ids_to_tokens(pipe.tokenizer_3("a red circle at the top left").input_ids) == [
        "▁a", "▁red", "▁circle", "▁at", "▁the", "▁top", "▁left", "</s>"]  # one token a word, bidirectional encoder
    assert json.loads((out / "unireward_align.json").read_text())["inference"]["max_sequence_length"] == 16
    gen = load_generator(f"diffusers:{out}", Task.IMAGE_GENERATION)
    assert len(gen.generate(PromptItem(id="p", prompt="a red circle", position=0), 2, seed=0,
                            media_dir=tmp_path / "m")) == 2
    with pytest.raises(ValueError, match="t5 is a text encoder of the 'sd3' denoiser"):
        GeneratorSettings(t5=True)


def test_shipped_sd3_generator_puts_the_object_where_the_caption_says():
    """assets/small-t2i-sd3 (layout first) reads position words: the same seed with six different places gives
    six images the oracle finds right, place included (the mix-trained generators put all six in one spot)."""
    from pathlib import Path

    from unireward.align.synth_eval import oracle_elements
    from unireward.construct.generators import load_generator
    from unireward.synth import Oracle
    from unireward.tasks import Task

    asset = Path(__file__).resolve().parents[2] / "assets" / "small-t2i-sd3"
    gen = load_generator(f"diffusers:{asset}", Task.IMAGE_GENERATION)
    assert gen._call_kwargs()["max_sequence_length"] == 1
    oracle, right = Oracle(), []
    for place in ("top left", "top right", "bottom left", "bottom right", "left", "right"):
        caption = f"a large red circle at the {place}"
        image = gen.pipe(caption, generator=torch.Generator().manual_seed(0), **gen._call_kwargs()).images[0]
        right.append(oracle_elements(oracle, "image", caption, image)[f"{place} (position)"])
    assert sum(right) >= 5, right
