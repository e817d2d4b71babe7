"""Each source adapter on fixture files in the source's exact layout: labels, ids, media, and skipped rows."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from data_fixtures import image_bytes

from unireward.data.sources.common import pair_order
from unireward.media import load_image
from unireward.records import read_records
from unireward.tasks import Form, Task


def records(converted, name: str) -> dict:
    root, _ = converted
    return {r.id: r for r in read_records(root / name / "records.jsonl")}


def skipped(converted, name: str) -> dict[int | None, dict]:
    """Skipped entries by global row index (all of them, from skipped.jsonl)."""
    import json

    root, _ = converted
    lines = (root / name / "skipped.jsonl").read_text().splitlines()
    return {e["row"]: e for e in map(json.loads, lines)}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def image_of(candidate: dict) -> str:
    return candidate["media"][0]["image"]


@pytest.mark.parametrize("name", ["hpd", "hpdv2", "evalmuse", "oip", "pickapic", "llava_critic", "videodpo",
                                  "lift_hra", "videofeedback", "sharegptvideo"])
def test_every_media_path_exists_and_summary_matches_files(converted, name):
    root, summaries = converted
    s = summaries[name]
    recs = list(read_records(root / name / "records.jsonl"))  # validates every record
    assert s["records_written"] == len(recs) > 0
    assert s["rows_skipped"] == len(skipped(converted, name)) > 0  # every fixture has malformed rows
    for r in recs:
        items = r.media + [m for c in r.candidates for m in c.get("media", [])]
        for m in items:
            (kind, value), = m.items()
            for p in value if kind == "frames" else [value]:
                assert (root / name / p).is_file(), (r.id, p)
                assert p.startswith(f"media/{name}/")


def test_hpd_votes_decide_and_equal_votes_tie(converted):
    recs = records(converted, "hpd")
    stem = "hpd/train_0001-00000-of-00001"
    assert {k: r.label["winner"] for k, r in recs.items()} == {f"{stem}-0": "A", f"{stem}-1": "B", f"{stem}-2": "tie"}
    r = recs[f"{stem}-0"]
    assert (r.task, r.form, r.prompt) == (Task.IMAGE_GENERATION, Form.PAIR, "A lighthouse on a cliff at dusk")
    assert r.meta["votes"] == [14, 7] and r.meta["models"] == ["flux", "dalle3"]
    assert sha(image_bytes(0)) in image_of(r.candidates[0]) and sha(image_bytes(100)) in image_of(r.candidates[1])
    skips = skipped(converted, "hpd")
    assert skips[3]["kind"] == "invalid value" and "unknown vote value votes_image1=-1" in skips[3]["reason"]
    assert skips[3]["where"] == "data/train_0001-00000-of-00001.parquet row 3"
    assert skips[4]["kind"] == "unreadable media" and "image2" in skips[4]["reason"]
    assert skips[5]["kind"] == "missing field" and "'prompt'" in skips[5]["reason"]
    assert skips[6]["kind"] == "no preference"


def test_oip_chosen_wins_in_a_hash_balanced_position(converted):
    recs = records(converted, "oip")
    assert len(recs) == 4
    winners = set()
    for i in range(4):
        rid = f"oip/{3368 + i}-quality"
        r = recs[rid]
        expected = pair_order(rid, "chosen", "rejected")[2]
        assert r.label == {"winner": expected} and r.meta["chosen"] == expected
        won = r.candidates[0 if expected == "A" else 1]
        assert sha(image_bytes(200 + i)) in image_of(won)
        assert r.meta["category"] == "Manga"
        winners.add(expected)
    skips = skipped(converted, "oip")
    assert skips[4]["where"] == "data/train-00001-of-00002.parquet row 1"  # global row 4, second file's row 1
    assert "'rejected' has no embedded image bytes" in skips[4]["reason"]


def test_pickapic_labels_ties_and_filters(converted):
    recs = records(converted, "pickapic")
    stem = "pickapic/train-00000-of-00001"
    assert {k: r.label["winner"] for k, r in recs.items()} == {f"{stem}-0": "A", f"{stem}-1": "B", f"{stem}-2": "tie"}
    assert recs[f"{stem}-0"].meta["ranking_id"] == 1000
    skips = skipped(converted, "pickapic")
    assert "unknown label value label_0=0.3, label_1=0.7" in skips[3]["reason"]
    assert skips[4]["kind"] == "unlabelled"
    assert skips[5]["kind"] == "unreadable media" and "jpg_1" in skips[5]["reason"]


def test_hpdv2_train_pairs_and_test_rankings(converted):
    recs = records(converted, "hpdv2")
    winners = {k: r.label["winner"] for k, r in recs.items()}
    assert winners == {"hpdv2/train-0": "A", "hpdv2/train-1": "B", "hpdv2/test-0-0-1": "B", "hpdv2/test-0-0-2": "B",
                       "hpdv2/test-0-1-2": "A", "hpdv2/test-1-0-1": "tie"}
    assert recs["hpdv2/test-0-0-2"].meta == {"split": "test", "group": 0, "members": [0, 2], "ranks": [2.0, 1.0],
                                             "paths": ["00000000.jpg", "00000002.jpg"]}
    assert recs["hpdv2/train-0"].prompt == "a castle made of candy"
    skips = skipped(converted, "hpdv2")
    assert "human_preference must be [1, 0] or [0, 1], got [1, 1]" in skips[2]["reason"]
    assert skips[3]["kind"] == "missing media" and "image(s) 99999999.jpg not found" in skips[3]["reason"]
    assert skips[3]["where"] == "train.json item 3"


def test_evalmuse_pointwise_means_and_majority_elements(converted):
    recs = records(converted, "evalmuse")
    first = recs["evalmuse/SDXL-Turbo/00110.png"]
    assert first.form == Form.POINT and first.label["scale"] == [1, 5]
    assert first.label["score"] == 3.33
    assert first.label["elements"] == {"puffin (animal)": 1, "booth (object)": 0, "eating (activity)": 1,
                                       "Etching (attribute)": 0}
    assert recs["evalmuse/DALLE3/00110.png"].label["score"] == 4.67
    assert recs["evalmuse/SD15/00110.png"].label["elements"] == {"puffin (animal)": 0}
    assert first.meta["total_score"] == [4, 3, 3] and first.meta["promt_meaningless"] == [0, 0, 0]
    skips = skipped(converted, "evalmuse")
    assert "total_score" in skips[6]["reason"] and skips[7]["kind"] == "missing media"


def test_evalmuse_pairs_highest_against_lowest_mean(converted):
    recs = records(converted, "evalmuse")
    pairs = {k: r for k, r in recs.items() if r.form == Form.PAIR}
    assert list(pairs) == ["evalmuse/pair-00110"]  # 00111 has one image, 00112 two equal means
    r = pairs["evalmuse/pair-00110"]
    won = r.candidates[0 if r.label["winner"] == "A" else 1]
    lost = r.candidates[1 if r.label["winner"] == "A" else 0]
    assert won == recs["evalmuse/DALLE3/00110.png"].candidates[0]
    assert lost == recs["evalmuse/SD15/00110.png"].candidates[0]
    assert sorted(r.meta["scores"]) == [1.67, 4.67]


def test_llava_critic_pairwise_verdicts_from_the_critique(converted):
    recs = records(converted, "llava_critic")
    r = recs["llava_critic/pair/vlfeedback_0"]
    assert (r.task, r.form, r.prompt) == (Task.IMAGE_UNDERSTANDING, Form.PAIR, "What is on the table?")
    assert [c["text"] for c in r.candidates] == ["A dog.", "A cup [ceramic]."]
    assert r.label == {"winner": "B"} and r.rationale.endswith("the second response is better.")
    assert r.media[0]["image"].startswith("media/llava_critic/")
    other = recs["llava_critic/pair/vlfeedback_1"]
    assert (other.prompt, other.label["winner"]) == ("What colour is the car?", "A")
    assert [c["text"] for c in other.candidates] == ["Red.", "Blue."]
    assert recs["llava_critic/pair/vlfeedback_2"].label == {"winner": "tie"}
    skips = skipped(converted, "llava_critic")
    assert skips[3]["kind"] == "unparseable verdict" and skips[4]["kind"] == "unreadable media"


def test_llava_critic_pointwise_scores_and_scales(converted):
    recs = records(converted, "llava_critic")
    r = recs["llava_critic/point/llava_wild_0"]  # two exchanges: the last one is used
    assert (r.prompt, r.candidates[0]["text"]) == ("What is on the table?", "A cup of tea.")
    assert r.label == {"score": 85.0, "scale": [0.0, 100.0]} and "Final Score: 85" in r.rationale
    assert recs["llava_critic/point/llava_wild_1"].label == {"score": 7.0, "scale": [1.0, 10.0]}
    assert recs["llava_critic/point/llava_wild_2"].label == {"score": 2.0, "scale": [0.0, 10.0]}
    skips = skipped(converted, "llava_critic")
    assert skips[8]["where"] == "pointwise/train-00000-of-00001.parquet row 3"
    assert skips[8]["reason"] == "no score found in the critique"
    assert "outside the scale" in skips[9]["reason"]
    assert skips[10]["kind"] == "unparseable instruction"


def test_videodpo_winner_clip_and_captions(converted, source_inputs):
    recs = records(converted, "videodpo")
    assert sorted(recs) == ["videodpo/vidpro-0", "videodpo/vidpro-1", "videodpo/vidpro-2"]
    r = recs["videodpo/vidpro-0"]
    assert (r.task, r.form, r.prompt) == (Task.VIDEO_GENERATION, Form.PAIR, "A corgi running on a beach at sunset")
    won = r.candidates[0 if r.label["winner"] == "A" else 1]["media"][0]["video"]
    clip0 = source_inputs["videodpo"] / "vidpro" / "videos" / "prompt_0000_sample_0.mp4"
    assert sha(clip0.read_bytes()) in won and r.meta["pair_score"] == 0.63
    assert recs["videodpo/vidpro-2"].prompt == "caption of clip 1"  # from the winner's metadata
    skips = skipped(converted, "videodpo")
    assert "video2=9 is not an index" in skips[3]["reason"]
    assert "metadata.json item 4 (video1) has no basic.clip_path" in skips[4]["reason"]


def test_lift_hra_merges_dimensions_per_video(converted):
    recs = records(converted, "lift_hra")
    assert len(recs) == 2
    r = recs["lift_hra/videos/HRA_part0/cogvideox_000123.mp4"]
    assert r.prompt == "A fluffy panda wears a futuristic spacesuit"
    assert r.label == {"score": 2.0, "scale": [1, 3], "dims": {"semantic consistency": 3, "fidelity": 1, "motion": 2}}
    assert r.rationale.splitlines() == ["semantic consistency: Good. The panda and the spacesuit match the caption.",
                                        "fidelity: Bad. The panda's limbs are missing in the video.",
                                        "motion: Normal. Slight jitter."]
    partial = recs["lift_hra/videos/HRA_part0/cogvideox_000124.mp4"]
    assert partial.label["dims"] == {"fidelity": 3, "motion": 2} and partial.label["score"] == 2.5
    assert partial.meta["missing"] == ["semantic consistency"]
    skips = skipped(converted, "lift_hra")
    assert "unknown rating 'Excellent! Great video.'" in skips[5]["reason"]
    assert skips[6]["kind"] == "duplicate" and skips[7]["kind"] == "unparseable instruction"


def test_videofeedback_five_dimensions_and_frame_order(converted, source_inputs):
    recs = records(converted, "videofeedback")
    r = recs["videofeedback/2000118"]
    assert r.label["dims"] == {"visual quality": 3, "temporal consistency": 2, "dynamic degree": 3,
                               "text-to-video alignment": 3, "factual consistency": 2}
    assert r.label["score"] == 5.8 and r.label["scale"] == [1, 10]  # 1 + 3 * (2.6 - 1)
    assert recs["videofeedback/2000119"].label["score"] == 10.0
    frames = r.candidates[0]["media"][0]["frames"]
    folder = source_inputs["videofeedback"] / "frames_annotated" / "2000118"
    assert [sha((folder / f"2000118_{k:02d}.jpg").read_bytes()) for k in range(10)] == \
        [Path(p).stem for p in frames]
    skips = skipped(converted, "videofeedback")
    assert "'visual quality' = 5" in skips[2]["reason"] and skips[3]["kind"] == "missing media"


def test_sharegptvideo_pairs_and_two_pointwise_samples(converted):
    recs = records(converted, "sharegptvideo")
    assert len(recs) == 6
    pair = recs["sharegptvideo/v_abc123_0"]
    assert pair.prompt == "What is the man doing after he opens the fridge?"
    expected = pair_order(pair.id, "c", "r")[2]
    assert pair.label == {"winner": expected}
    assert pair.candidates[0 if expected == "A" else 1]["text"].startswith("After opening the fridge")
    assert len(pair.media[0]["frames"]) == 12
    assert recs["sharegptvideo/v_abc123_0/chosen"].label == {"score": 4.0, "scale": [1.0, 5.0]}
    assert recs["sharegptvideo/v_abc123_0/rejected"].label["score"] == 2.0
    assert recs["sharegptvideo/v_def456_1/rejected"].label["score"] == 3.5
    assert recs["sharegptvideo/v_abc123_0/chosen"].media == pair.media
    skips = skipped(converted, "sharegptvideo")
    assert skips[2]["where"] == "sft_dpo_17k.jsonl line 3" and skips[2]["kind"] == "unreadable row"
    assert skips[3]["reason"] == "missing field 'chosen_score'"
    assert skips[4]["kind"] == "missing media"


def test_converted_images_decode(converted):
    root, _ = converted
    for r in read_records(root / "oip" / "records.jsonl"):
        assert load_image(root / "oip" / image_of(r.candidates[0])).size == (32, 32)
