"""VLM DPO data and collator: construct's rows load and batch (images, native videos, videos as frames); bad rows
are reported by row before training; a generic TRL dataset (plain-text prompt, one `image`) works too."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.align import test_vlm_fixtures as fixtures
from tests.align.test_vlm_fixtures import pair_rows, write_media, write_pairs
from unireward.align.vlm_data import PairDataError, load_preference_data
from unireward.media import MediaError


image_pairs, video_pairs = fixtures.image_pairs, fixtures.video_pairs  # the shared pair folders


def collator(model_dir: str, **kw):
    from transformers import AutoProcessor

    from unireward.align.collate import PreferenceCollator
    from unireward.judges.arch import get_arch

    proc = AutoProcessor.from_pretrained(model_dir)
    arch = get_arch(json.load(open(f"{model_dir}/config.json"))["model_type"])
    return PreferenceCollator(processor=proc, num_frames=4, max_pixels=64 * 64, system_prompt=arch.system_prompt,
                              **kw), proc


def token_count(batch, proc, token: str) -> int:
    return int((batch["input_ids"] == proc.tokenizer.convert_tokens_to_ids(token)).sum())


def test_construct_image_rows_load_typed_and_trimmed(image_pairs):
    ds = load_preference_data(image_pairs)
    assert set(ds.column_names) == {"prompt", "chosen", "rejected", "images", "row_id"}  # evidence dropped
    assert ds[0]["images"][0].size == (64, 64) and ds[2]["row_id"] == "row 2 (id image-q2)"


def test_video_rows_get_an_empty_images_column_and_absolute_paths(video_pairs):
    ds = load_preference_data(video_pairs)
    assert ds[0]["images"] == [] and ds[0]["videos"][0] == str((video_pairs / "media/shared/0.mp4").resolve())


def test_native_video_batch_carries_video_pixels(video_pairs, tiny_models):
    """The fix for construct's video rows (TRL alone sends <|video_pad|> tokens with no pixels)."""
    coll, proc = collator(tiny_models["qwen2_5_vl"])
    rows = list(load_preference_data(video_pairs).select(range(2)))
    batch = coll(rows)
    assert batch["input_ids"].shape[0] == 4  # 2 chosen + 2 rejected
    assert batch["video_grid_thw"].shape[0] == 4 and "pixel_values" not in batch
    merge = proc.video_processor.merge_size ** 2
    assert token_count(batch, proc, "<|video_pad|>") == int(batch["video_grid_thw"].prod(-1).sum()) // merge
    # the completion mask covers the answers only
    assert 0 < int(batch["completion_mask"].sum()) < int(batch["attention_mask"].sum())


def test_videos_as_frames_become_images(video_pairs, tiny_models):
    coll, proc = collator(tiny_models["qwen2_5_vl"], video_as="frames")
    batch = coll(list(load_preference_data(video_pairs).select(range(2))))
    assert "pixel_values_videos" not in batch and batch["image_grid_thw"].shape[0] == 4 * 4  # 4 frames x 4 rows
    assert token_count(batch, proc, "<|video_pad|>") == 0


def test_llava_onevision_video_batch_and_system_turn(video_pairs, tiny_models):
    coll, proc = collator(tiny_models["llava_onevision"])
    batch = coll(list(load_preference_data(video_pairs).select(range(2))))
    assert tuple(batch["pixel_values_videos"].shape[:2]) == (4, 4)  # 4 sequences, 4 frames each
    text = proc.tokenizer.decode(batch["input_ids"][0])
    assert "You are a helpful assistant." in text  # as construct's vlm: generator prompts LLaVA-OneVision


def test_several_sources_are_one_set_with_rows_named_by_source(tmp_path, image_pairs, video_pairs):
    second = tmp_path / "pairs-2"
    shutil.copytree(image_pairs, second)
    ds = load_preference_data([image_pairs, second])
    assert len(ds) == 2 * len(load_preference_data(image_pairs))
    assert ds[0]["row_id"] == f"{image_pairs}: row 0 (id image-q0)"
    assert ds[4]["row_id"] == f"{second}: row 0 (id image-q0)"
    assert ds[4]["images"][0].size == (64, 64)  # each source's media resolved against its own folder
    assert load_preference_data([image_pairs])[0]["row_id"] == "row 0 (id image-q0)"  # one source: unprefixed
    # every bad row of every source in one error, each named with its source
    (second / "media/shared").rename(second / "media/gone")
    broken = tmp_path / "pairs-3"
    shutil.copytree(image_pairs, broken)
    (broken / "pairs.jsonl").write_text(json.dumps({"prompt": "q", "chosen": "a"}) + "\n")
    with pytest.raises(PairDataError) as e:
        load_preference_data([image_pairs, second, broken])
    msg = str(e.value)
    assert f"{second}: row 0 (id image-q0): image file" in msg and f"{broken}: preference rows need" in msg
    assert str(image_pairs) + ":" not in msg
    with pytest.raises(PairDataError, match="different columns"):  # images-only and videos: not one set
        load_preference_data([image_pairs, video_pairs])


def test_bad_rows_are_all_named_before_training(tmp_path):
    rows = pair_rows("image")
    rows[1]["images"] = ["media/shared/missing.png"]
    rows[2]["chosen"] = []
    rows[3]["prompt"][0]["content"].insert(0, {"type": "image"})  # two placeholders, one image
    folder = write_pairs(tmp_path / "pairs", rows)
    write_media(folder, "image")
    with pytest.raises(PairDataError) as e:
        load_preference_data(folder)
    msg = str(e.value)
    assert "3 bad preference row(s)" in msg and "row 0" not in msg
    assert "row 1 (id image-q1): image file media/shared/missing.png not found" in msg
    assert "row 2 (id image-q2): chosen is empty" in msg
    assert "row 3 (id image-q3): prompt has 2 image placeholder(s) but the row has 1 image(s)" in msg


def test_missing_video_and_missing_columns(tmp_path, video_pairs):
    folder = tmp_path / "v"
    shutil.copytree(video_pairs, folder)
    (folder / "media/shared/2.mp4").unlink()
    with pytest.raises(PairDataError, match=r"row 2 \(id video-q2\): video file media/shared/2.mp4 not found"):
        load_preference_data(folder)
    (folder / "pairs.jsonl").write_text(json.dumps({"prompt": "q", "chosen": "a"}) + "\n")
    with pytest.raises(PairDataError, match="missing rejected"):
        load_preference_data(folder)


def test_corrupt_video_names_the_row_when_batched(tmp_path, video_pairs, tiny_models):
    folder = tmp_path / "v"
    shutil.copytree(video_pairs, folder)
    (folder / "media/shared/1.mp4").write_bytes(b"not a video" * 50)
    coll, _ = collator(tiny_models["qwen2_5_vl"])
    rows = list(load_preference_data(folder))
    with pytest.raises(MediaError, match=r"row 1 \(id video-q1\)"):
        coll(rows[:2])


def test_generic_trl_rows_plain_text_prompt_and_single_image(tmp_path, tiny_models):
    from tests.conftest import random_image

    random_image(5).save(tmp_path / "x.png")
    row = {"prompt": [{"role": "user", "content": "What colour?"}],
           "chosen": [{"role": "assistant", "content": "Red."}],
           "rejected": [{"role": "assistant", "content": "Blue."}], "image": "x.png"}
    (tmp_path / "train.jsonl").write_text(json.dumps(row) + "\n")
    ds = load_preference_data(tmp_path / "train.jsonl")
    coll, proc = collator(tiny_models["qwen2_5_vl"])
    batch = coll([ds[0]])
    assert batch["image_grid_thw"].shape[0] == 2 and token_count(batch, proc, "<|image_pad|>") > 0
