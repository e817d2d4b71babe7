"""Benchmark loaders on fixture files in each benchmark's exact download layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_fixtures import (
    GENAI_URL,
    VLRB_IDS,
    png,
    write_genai_image,
    write_genai_video,
    write_hpdv2,
    write_mjbench,
    write_parquet,
    write_pickapic,
    write_videogen,
    write_vlrb,
)

from unireward.bench.pipeline import prepare
from unireward.bench.sources import MissingMediaError, convert, get_benchmark, list_benchmarks
from unireward.bench.sources.genai_bench import url_candidates
from unireward.bench.sources.vl_rewardbench import category_of, subset_of
from unireward.data.sources.common import SourceError
from unireward.media import load_image, load_video
from unireward.records import read_records
from unireward.tasks import Task


def test_registry_lists_valid_names_on_error():
    assert set(list_benchmarks()) == {"vl-rewardbench", "genai-bench-image", "genai-bench-video",
                                      "videogen-rewardbench", "mj-bench", "pickapic", "hpdv2"}
    with pytest.raises(ValueError, match="unknown benchmark 'vlrewardbench'; valid: vl-rewardbench, genai-bench"):
        get_benchmark("vlrewardbench")


@pytest.mark.parametrize("item_id, subset, group", [
    ("RLAIF-V-276", "rlaif-v", "hallucination"),
    ("RLHF-V-31", "rlhf-v", "hallucination"),
    ("hallucination_pair-1003", "povid", "hallucination"),  # the official "povid" fix
    ("mathverse_1294", "reasoning_tasks", "reasoning"),
    ("mmmu_pro_test_Electronics_6", "reasoning_tasks", "reasoning"),
    ("wildvision-battle-13", "wildvision-battle", "general"),
    ("jailbreak-Fraud-29", "vlfeedback", "general"),
    ("vlfeedback_4051", "vlfeedback", "general"),
])
def test_vlrb_category_mapping_on_real_ids(item_id, subset, group):
    assert subset_of(item_id) == subset
    assert category_of(item_id) == group


def test_vlrb_records(tmp_path):
    write_vlrb(tmp_path / "vlrb")
    res = convert("vl-rewardbench", tmp_path / "vlrb", tmp_path / "out")
    assert not res.errors
    recs = list(read_records(tmp_path / "out" / "records.jsonl"))
    assert [r.id for r in recs] == VLRB_IDS
    r0, r1 = recs[0], recs[1]
    assert r0.task == Task.IMAGE_UNDERSTANDING and r0.label == {"winner": "B"}  # human_ranking [1, 0]
    assert r1.label == {"winner": "A"} and r1.meta == {"category": "hallucination", "subset": "povid"}
    assert r0.candidates == [{"text": "good answer 0"}, {"text": "bad answer 0"}]
    img = r0.media[0]["image"]
    assert img.startswith("media/vl-rewardbench/") and img.endswith(".png")
    assert load_image(tmp_path / "out" / img).size == (32, 32)
    kw = r0.judge_inputs(tmp_path / "out")
    assert kw["a"] == "good answer 0" and Path(kw["media"]).is_file()


def test_vlrb_bad_row_is_named_and_skipped(tmp_path):
    write_vlrb(tmp_path / "vlrb", ids=["RLAIF-V-1", "RLAIF-V-2"], ranking=[[0, 1], [0, 0]])
    res = convert("vl-rewardbench", tmp_path / "vlrb", tmp_path / "out")
    assert [r.id for r in res.records] == ["RLAIF-V-1"]
    assert [str(e) for e in res.errors] == ["vl-rewardbench: data/test-00000-of-00001.parquet row 1: (id 'RLAIF-V-2') "
                                            "field 'human_ranking' must be [0, 1] or [1, 0], got [0, 0]"]


def test_vlrb_missing_column_is_a_clear_error(tmp_path):
    write_parquet(tmp_path / "x.parquet", {"id": ["a"], "query": ["q"]})
    with pytest.raises(SourceError, match=r"x\.parquet: missing column\(s\) \['response', 'image', 'human_ranking'\]"):
        convert("vl-rewardbench", tmp_path / "x.parquet", tmp_path / "out")


def test_genai_image_votes_and_splits(tmp_path):
    write_genai_image(tmp_path / "g", "test")
    write_genai_image(tmp_path / "g", "test_v1", votes=["rightvote", "bothbad_vote"])
    res = convert("genai-bench-image", tmp_path / "g", tmp_path / "out")
    assert [r.winner for r in res.records] == ["A", "B", "tie", "tie", "A", "B"]
    assert [r.meta["vote_type"] for r in res.records][2:4] == ["tievote", "bothbad_vote"]
    assert res.records[0].id == "test-0" and res.records[0].task == Task.IMAGE_GENERATION
    right = res.records[0].candidates[1]["media"][0]["image"]
    assert right.endswith(".jpg")
    v1 = convert("genai-bench-image", tmp_path / "g", tmp_path / "out1", split="test_v1")
    assert [r.winner for r in v1.records] == ["B", "tie"] and v1.records[0].id == "test_v1-0"
    with pytest.raises(ValueError, match="unknown split 'train'; valid splits: test, test_v1"):
        convert("genai-bench-image", tmp_path / "g", tmp_path / "out2", split="train")


def test_genai_image_old_train_file_names(tmp_path):
    write_genai_image(tmp_path / "g", "train")
    assert len(convert("genai-bench-image", tmp_path / "g", tmp_path / "out").records) == 6


def test_genai_url_mapping():
    url = GENAI_URL.format(d="dir", h="86aa")
    root = Path("/r")
    assert url_candidates(url, root) == [root / "dir/86aa.mp4",
                                         root / "huggingface.co/datasets/tianleliphoebe/genai-arena-video-mp4/blob"
                                                "/main/dir/86aa.mp4",
                                         root / "86aa.mp4"]


def test_genai_video_with_media_root(tmp_path):
    write_genai_video(tmp_path / "g", tmp_path / "videos")
    res = convert("genai-bench-video", tmp_path / "g", tmp_path / "out", media_root=tmp_path / "videos")
    assert not res.errors and len(res.records) == 4
    a, b = (c["media"][0]["video"] for c in res.records[0].candidates)
    assert a == str((tmp_path / "videos/dir" / f"{0:032x}.mp4").resolve()) and b.endswith("videos/r0.mp4")
    assert len(load_video(a, num_frames=2)) == 2


def test_genai_video_needs_media_root(tmp_path):
    write_genai_video(tmp_path / "g", tmp_path / "videos", download=False)
    with pytest.raises(ValueError, match="--media-root"):
        convert("genai-bench-video", tmp_path / "g", tmp_path / "out")


def test_missing_videos_are_listed(tmp_path):
    write_genai_video(tmp_path / "g", tmp_path / "videos", n=3)
    (tmp_path / "videos" / "r1.mp4").unlink()
    with pytest.raises(MissingMediaError) as exc:
        prepare("genai-bench-video", tmp_path / "g", tmp_path / "out", media_root=tmp_path / "videos")
    msg = str(exc.value)
    assert "1 item(s)" in msg and "video_generation/test-00000-of-00001.parquet row 1" in msg
    assert "https://example.org/videos/r1.mp4" in msg
    assert "--allow-missing" in msg
    assert "r1.mp4" in (tmp_path / "out" / "missing_media.txt").read_text()
    res = prepare("genai-bench-video", tmp_path / "g", tmp_path / "out", media_root=tmp_path / "videos",
                  allow_missing=True)
    assert [r.id for r in res.records] == ["test-0", "test-2"] and len(res.missing) == 1


def test_videogen_overall_and_dims(tmp_path):
    write_videogen(tmp_path / "vg")
    res = convert("videogen-rewardbench", tmp_path / "vg", tmp_path / "out")
    assert not res.errors
    assert [r.winner for r in res.records] == ["A", "B", "tie", "A"]
    r = res.records[0]
    assert r.id == "row-0" and r.task == Task.VIDEO_GENERATION
    assert r.meta["dims"] == {"VQ": "A", "MQ": "B", "TA": "tie"}
    assert Path(r.candidates[1]["media"][0]["video"]).is_file()  # "./videos/..." form resolved


def test_videogen_bad_label_and_missing_video(tmp_path):
    write_videogen(tmp_path / "vg", overall=["A", "C", "B"])
    (tmp_path / "vg/videos/minimax/minimax_00002.mp4").unlink()
    res = convert("videogen-rewardbench", tmp_path / "vg", tmp_path / "out")
    assert [r.id for r in res.records] == ["row-0"]
    msgs = [str(e) for e in res.errors]
    assert msgs[0] == ("videogen-rewardbench: videogen-rewardbench.csv row 1: "
                       "column 'Overall' must be A, B or same, got 'C'")
    assert isinstance(res.errors[1], MissingMediaError) and "minimax_00002.mp4" in msgs[1]


def test_mjbench_perspectives(tmp_path):
    write_mjbench(tmp_path / "mj", "alignment", [0, 1, 0])
    write_mjbench(tmp_path / "mj", "safety", [1])
    write_parquet(tmp_path / "mj/data/bias-00000-of-00001.parquet", {"demographic": ["x"], "image": [None]})
    res = convert("mj-bench", tmp_path / "mj", tmp_path / "out")
    assert [(r.id, r.winner, r.meta["category"]) for r in res.records] == [
        ("alignment-00000-of-00001-0", "A", "alignment"), ("alignment-00000-of-00001-1", "B", "alignment"),
        ("alignment-00000-of-00001-2", "A", "alignment"), ("safety-00000-of-00001-0", "B", "safety")]
    assert len(res.errors) == 1 and isinstance(res.errors[0], SourceError)
    assert "bias-00000-of-00001.parquet: missing column(s) ['caption', 'image0'" in str(res.errors[0])
    only = convert("mj-bench", tmp_path / "mj", tmp_path / "out2", split="safety")
    assert len(only.records) == 1 and not only.errors


def test_mjbench_current_card_columns(tmp_path):
    from bench_fixtures import HF_IMAGE, hf_image
    write_parquet(tmp_path / "mj/data/train-00000-of-00001.parquet",
                  {"caption": ["c"], "image0": [hf_image(png((1, 1, 1)))], "image1": [hf_image(png((2, 2, 2)))],
                   "label": [0], "category": ["Alignment"], "subcategory": ["Object"], "model": ["sdxl"]},
                  {"image0": HF_IMAGE, "image1": HF_IMAGE})
    (r,) = convert("mj-bench", tmp_path / "mj", tmp_path / "out").records
    assert r.winner == "A" and r.meta == {"category": "Alignment", "subset": "Object"}


def test_pickapic_labels_and_filters(tmp_path):
    write_pickapic(tmp_path / "pp")
    write_pickapic(tmp_path / "pp", "test_unique")  # must not be read as part of "test"
    res = convert("pickapic", tmp_path / "pp", tmp_path / "out")
    assert [(r.id, r.winner) for r in res.records] == [("test-0", "A"), ("test-1", "B"), ("test-2", "tie")]
    assert res.filtered == {"identical images": 1, "unlabelled": 1}
    assert res.records[0].meta == {"models": ["sdxl", "sd-2.1"], "image_uids": ["a0", "b0"], "ranking_id": 100}
    img = res.records[0].candidates[0]["media"][0]["image"]
    assert img.endswith(".jpg") and (tmp_path / "out" / img).is_file()


def test_pickapic_undecodable_image_is_named(tmp_path):
    write_pickapic(tmp_path / "pp")
    import pyarrow.parquet as pq
    path = tmp_path / "pp/data/test-00000-of-00001.parquet"
    t = pq.read_table(path).to_pydict()
    t["jpg_1"][1] = b"not an image"
    write_parquet(path, t)
    res = convert("pickapic", tmp_path / "pp", tmp_path / "out")
    assert [r.id for r in res.records] == ["test-0", "test-2"]
    assert str(res.errors[0]).startswith("pickapic: data/test-00000-of-00001.parquet row 1: jpg_1: cannot open image")


def test_hpdv2_rankings_to_pairs(tmp_path):
    write_hpdv2(tmp_path / "HPD", groups=[[2, 0, 1], [0, 0]])
    res = convert("hpdv2", tmp_path / "HPD", tmp_path / "out")
    got = [(r.id, r.winner, r.meta["members"], r.meta["ranks"]) for r in res.records]
    assert got == [("0-0-1", "B", [0, 1], [2.0, 0.0]), ("0-0-2", "B", [0, 2], [2.0, 1.0]),
                   ("0-1-2", "A", [1, 2], [0.0, 1.0]), ("1-0-1", "tie", [0, 1], [0.0, 0.0])]
    assert Path(res.records[0].candidates[0]["media"][0]["image"]).is_file()


def test_hpdv2_missing_images_reported_per_file(tmp_path):
    write_hpdv2(tmp_path / "HPD", groups=[[1, 0, 2], [0, 1]])
    for name in ("0000_0.jpg", "0000_2.jpg"):
        (tmp_path / "HPD/test" / name).unlink()
    res = convert("hpdv2", tmp_path / "HPD" / "test.json", tmp_path / "out")
    assert [r.id for r in res.records] == ["1-0-1"]
    (error,) = res.missing
    assert [Path(p).name for p in error.paths] == ["0000_0.jpg", "0000_2.jpg"] and error.kind == "missing media"
    assert str(error).startswith("hpdv2: test.json item 0: image(s) 0000_0.jpg, 0000_2.jpg not found under ")


def test_limit_stops_early(tmp_path):
    write_genai_image(tmp_path / "g")
    res = convert("genai-bench-image", tmp_path / "g", tmp_path / "out", limit=2)
    assert len(res.records) == 2
    assert len(list(read_records(tmp_path / "out/records.jsonl"))) == 2


def test_media_written_once_by_content(tmp_path):
    write_vlrb(tmp_path / "vlrb", ids=["RLAIF-V-1", "RLAIF-V-2"])
    write_parquet(tmp_path / "same.parquet",
                  {"id": ["a", "b"], "query": ["q", "q"], "response": [["x", "y"]] * 2,
                   "image": [{"bytes": png((1, 2, 3)), "path": None}] * 2, "human_ranking": [[0, 1]] * 2})
    res = convert("vl-rewardbench", tmp_path / "same.parquet", tmp_path / "out")
    assert res.records[0].media == res.records[1].media
    assert len(list((tmp_path / "out/media/vl-rewardbench").iterdir())) == 1
    assert json.loads((tmp_path / "out/records.jsonl").read_text().splitlines()[0])["id"] == "a"


def test_a_corrupt_parquet_page_is_reported_per_row_and_the_rest_loads(tmp_path):
    import pyarrow.parquet as pq
    write_pickapic(tmp_path / "pp")
    path = tmp_path / "pp/data/test-00000-of-00001.parquet"
    pq.write_table(pq.read_table(path), path, row_group_size=3)  # two row groups: rows 0-2 and 3-4
    offset = pq.ParquetFile(path).metadata.row_group(1).column(0).data_page_offset
    data = bytearray(path.read_bytes())
    data[offset:offset + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    res = convert("pickapic", tmp_path / "pp", tmp_path / "out")
    assert [r.id for r in res.records] == ["test-0", "test-1", "test-2"]
    assert [str(e).split(": unreadable")[0] for e in res.errors] == [
        "pickapic: data/test-00000-of-00001.parquet row 3", "pickapic: data/test-00000-of-00001.parquet row 4"]
    assert "unreadable parquet data in row group 1 (rows 3-4)" in str(res.errors[0])


def test_a_truncated_parquet_file_is_named(tmp_path):
    write_vlrb(tmp_path / "vlrb")
    path = tmp_path / "vlrb/data/test-00000-of-00001.parquet"
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(SourceError, match=r"test-00000-of-00001\.parquet: not a readable parquet file"):
        convert("vl-rewardbench", tmp_path / "vlrb", tmp_path / "out")


def test_a_csv_without_a_label_column_is_named(tmp_path):
    path = write_videogen(tmp_path / "vg")
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line.rsplit(",", 5)[0] for line in lines) + "\n")  # drop Overall and after
    with pytest.raises(SourceError, match=r"videogen-rewardbench\.csv: missing column\(s\) \['Overall'\]"):
        convert("videogen-rewardbench", path, tmp_path / "out")
