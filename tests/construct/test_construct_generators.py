"""Generators on tiny real models (a Qwen2.5-VL sampler, Stable Diffusion, text-to-video) and the SPEC string."""

from __future__ import annotations

import json

import pytest

from tests.construct.conftest import image
from unireward.construct.generators import (
    DiffusionSampler,
    ExistingCandidates,
    GeneratorError,
    VLMSampler,
    generator_identity,
    load_generator,
    parse_spec,
)
from unireward.construct.items import PromptItem
from unireward.media import content_hash, load_video, write_video


def test_spec_parsing_and_errors(tmp_path):
    assert parse_spec("diffusers:org/model?steps=1&guidance=0") == ("diffusers", "org/model",
                                                                   {"steps": "1", "guidance": "0"})
    with pytest.raises(ValueError, match="vlm:, diffusers:, t2v:, jsonl:"):
        parse_spec("sdxl-turbo")
    with pytest.raises(ValueError, match="KIND one of"):
        parse_spec("gan:model")
    with pytest.raises(ValueError, match="a vlm generator cannot make candidates for image_generation; "
                                         "use one of: diffusers, jsonl"):
        load_generator("vlm:x", "image_generation")
    with pytest.raises(ValueError, match="unknown option 'sampler'.*valid options: steps, guidance"):
        load_generator("diffusers:x?sampler=ddim", "image_generation")
    with pytest.raises(ValueError, match="steps='many'.*is not a int"):
        load_generator("diffusers:x?steps=many", "image_generation")
    with pytest.raises(FileNotFoundError, match="candidates file not found"):
        load_generator(f"jsonl:{tmp_path / 'none.jsonl'}", "image_generation")


def test_vlm_sampler_image_and_video(tmp_path, vlm_dir):
    image(1).save(tmp_path / "q.png")
    write_video(tmp_path / "q.mp4", [image(k) for k in range(5)])
    gen = load_generator(f"vlm:{vlm_dir}?max_new_tokens=5&batch_size=2", "image_understanding")
    assert isinstance(gen, VLMSampler)
    item = PromptItem("q", "What is shown?", 0, media=str(tmp_path / "q.png"))
    a = gen.generate(item, 5, seed=11, media_dir=tmp_path)
    assert [c.index for c in a] == [0, 1, 2, 3, 4] and all(c.text is not None and c.path is None for c in a)
    assert [c.text for c in gen.generate(item, 5, seed=11, media_dir=tmp_path)] == [c.text for c in a]
    assert len({c.text for c in a}) > 1  # temperature sampling gives different answers
    assert [c.text for c in gen.generate(item, 5, seed=12, media_dir=tmp_path)] != [c.text for c in a]
    video = PromptItem("v", "What moves?", 0, media=str(tmp_path / "q.mp4"))
    for how in ("video", "frames"):
        g = VLMSampler(vlm_dir, max_new_tokens=3, num_frames=4, video_as=how)
        assert len(g.generate(video, 2, seed=0, media_dir=tmp_path)) == 2
    with pytest.raises(GeneratorError, match="prompt 'x': understanding tasks need"):
        gen.generate(PromptItem("x", "Why?", 0), 2, 0, tmp_path)


def test_video_options_do_not_change_an_image_samplers_identity():
    def ident(options: str, task: str) -> str:
        return generator_identity(f"vlm:some/vlm?temperature=0.7{options}", task)

    plain = ident("", "image_understanding")
    assert ident("&num_frames=8&video_as=frames", "image_understanding") == plain  # same answers, same cache
    assert ident("&video_as=video", "image_understanding") == plain
    assert ident("&video_as=frames", "video_understanding") != ident("&video_as=video", "video_understanding")
    assert ident("&num_frames=4", "video_understanding") != ident("", "video_understanding")
    assert ident("&max_pixels=1024", "image_understanding") != plain


def test_diffusion_sampler_seeds_and_files(tmp_path, sd_dir):
    gen = load_generator(f"diffusers:{sd_dir}?steps=2&height=32&width=32&batch_size=3", "image_generation")
    assert isinstance(gen, DiffusionSampler)
    item = PromptItem("p", "a red square", 0)
    cands = gen.generate(item, 4, seed=100, media_dir=tmp_path / "a")
    assert [c.seed for c in cands] == [100, 101, 102, 103]  # candidate j from seed s + j
    assert all(c.hash == content_hash(c.path) for c in cands) and len({c.hash for c in cands}) == 4
    again = gen.generate(item, 4, seed=100, media_dir=tmp_path / "b")
    assert [c.hash for c in again] == [c.hash for c in cands]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["0.png", "1.png", "2.png", "3.png"]
    assert gen.identity() != load_generator(f"diffusers:{sd_dir}?steps=3", "image_generation").identity()
    # the Ray driver names the generator without loading it: the same identity, so the same cached candidates
    spec = f"diffusers:{sd_dir}?steps=2&height=32&width=32&batch_size=3"
    assert generator_identity(spec, "image_generation", device="cpu") == gen.identity()


def test_turbo_defaults():
    gen = DiffusionSampler.__new__(DiffusionSampler)
    gen.target, gen.options = "stabilityai/sdxl-turbo", {}
    assert gen._call_kwargs() == {"num_inference_steps": 1, "guidance_scale": 0.0}
    gen.target, gen.options = "runwayml/stable-diffusion-v1-5", {"steps": 30, "height": 512}
    assert gen._call_kwargs() == {"num_inference_steps": 30, "height": 512}


def test_video_diffusion_sampler_writes_mp4(tmp_path, t2v_dir):
    gen = load_generator(f"t2v:{t2v_dir}?steps=2&height=32&width=32&num_frames=4&fps=4", "video_generation")
    cands = gen.generate(PromptItem("p", "a blue circle moves up", 0), 3, seed=5, media_dir=tmp_path)
    assert [c.seed for c in cands] == [5, 6, 7]
    for c in cands:
        assert c.path.endswith(".mp4") and len(load_video(c.path, num_frames=4)) == 4


def test_existing_candidates(tmp_path):
    for i in range(3):
        image(i).save(tmp_path / f"{i}.png")
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in [
        {"id": "a", "prompt": "a red fox", "candidates": ["0.png", {"image": "1.png"}, str(tmp_path / "2.png")]},
        {"prompt": "a blue car", "candidates": ["0.png", "missing.png"]},
        {"id": "t", "prompt": "Why?", "candidates": ["Because.", {"text": "No idea."}]}]) + "\nbroken\n")
    gen = ExistingCandidates(str(path), task="image_generation")
    assert any("line 4" in e for e in gen.errors)
    got = gen.generate(PromptItem("a", "ignored", 0), 2, 0, tmp_path)
    assert [c.hash for c in got] == [content_hash(tmp_path / "0.png"), content_hash(tmp_path / "1.png")]
    with pytest.raises(GeneratorError, match=r"prompt 'x': candidate 1 file not found: .*missing.png"):
        gen.generate(PromptItem("x", "a blue car", 0), 10, 0, tmp_path)  # matched by prompt text
    with pytest.raises(GeneratorError, match="prompt 'y': no candidates"):
        gen.generate(PromptItem("y", "a green hat", 0), 10, 0, tmp_path)
    texts = ExistingCandidates(str(path), task="image_understanding").generate(PromptItem("t", "Why?", 0), 9, 0,
                                                                               tmp_path)
    assert [c.text for c in texts] == ["Because.", "No idea."]


def test_an_aligned_pipeline_samples_with_the_settings_it_records(tmp_path):
    from unireward.construct.generators import recorded_inference

    (tmp_path / "unireward_align.json").write_text(json.dumps({"inference": {"num_inference_steps": 4,
                                                                             "guidance_scale": 0.0}}))
    assert recorded_inference(str(tmp_path)) == {"num_inference_steps": 4, "guidance_scale": 0.0}
    assert recorded_inference(str(tmp_path / "nowhere")) == {} and recorded_inference("stabilityai/sdxl-turbo") == {}
