"""Fixture writers: small files in each benchmark's exact on-disk format (datasets.md §1b, §9-§12)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from unireward.media import write_video


def png(color: tuple[int, int, int], size: int = 32, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, format=fmt)
    return buf.getvalue()


HF_IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def hf_image(data: bytes | None) -> dict:
    return {"bytes": data, "path": None}


def write_parquet(path: Path, columns: dict[str, list], types: dict[str, pa.DataType] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    types = types or {}
    table = pa.table({k: pa.array(v, type=types.get(k)) for k, v in columns.items()})
    pq.write_table(table, path)
    return path


VLRB_IDS = ["RLAIF-V-276", "hallucination_pair-1003", "mathverse_1294", "wildvision-battle-13",
            "mmmu_pro_test_Electronics_6", "RLHF-V-31", "jailbreak-Fraud-29"]


def write_vlrb(root: Path, ids: list[str] = VLRB_IDS, ranking: list[list[int]] | None = None) -> Path:
    n = len(ids)
    ranking = ranking or [[0, 1] if i % 3 else [1, 0] for i in range(n)]
    cols = {
        "id": ids, "query": [f"What is in image {i}?" for i in range(n)],
        "response": [[f"good answer {i}", f"bad answer {i}"] for i in range(n)],
        "image": [hf_image(png((10 * i, 100, 200))) for i in range(n)],
        "human_ranking": ranking, "models": [["m1", "m2"]] * n, "judge": ["human"] * n, "rationale": [""] * n,
        "query_source": ["COCO"] * n, "meta": ["{}"] * n, "human_error_analysis": [[]] * n, "ground_truth": [""] * n,
    }
    return write_parquet(root / "data" / "test-00000-of-00001.parquet", cols,
                         {"image": HF_IMAGE, "human_ranking": pa.list_(pa.int64()),
                          "human_error_analysis": pa.list_(pa.string())})


GENAI_VOTES = ["leftvote", "rightvote", "tievote", "bothbad_vote", "leftvote", "rightvote"]


def write_genai_image(root: Path, split: str = "test", votes: list[str] = GENAI_VOTES) -> Path:
    n = len(votes)
    cols = {"prompt": [f"a cat number {i}" for i in range(n)], "left_model": ["LCM"] * n,
            "left_image": [hf_image(png((i * 20, 0, 0))) for i in range(n)], "right_model": ["SDXL-Turbo"] * n,
            "right_image": [hf_image(png((0, i * 20, 0), fmt="JPEG")) for i in range(n)], "vote_type": votes}
    return write_parquet(root / "image_generation" / f"{split}-00000-of-00001.parquet", cols,
                         {"left_image": HF_IMAGE, "right_image": HF_IMAGE})


def frames(seed: int, n: int = 4, size: int = 32) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (size, size, 3), dtype=np.uint8) for _ in range(n)]


GENAI_URL = "https://huggingface.co/datasets/tianleliphoebe/genai-arena-video-mp4/blob/main/{d}/{h}.mp4"


def write_genai_video(root: Path, media_root: Path, n: int = 4, split: str = "test", download: bool = True) -> Path:
    left = [GENAI_URL.format(d="dir", h=f"{i:032x}") for i in range(n)]
    right = [f"https://example.org/videos/r{i}.mp4" for i in range(n)]
    if download:
        for i in range(n):
            write_video(media_root / "dir" / f"{i:032x}.mp4", frames(i))
            write_video(media_root / f"r{i}.mp4", frames(100 + i))
    cols = {"prompt": [f"a dog running {i}" for i in range(n)], "left_model": ["OpenSora"] * n, "left_video": left,
            "right_model": ["VideoCrafter2"] * n, "right_video": right, "vote_type": GENAI_VOTES[:n]}
    return write_parquet(root / "video_generation" / f"{split}-00000-of-00001.parquet", cols)


VIDEOGEN_COLUMNS = ["path_A", "path_B", "A_model", "B_model", "prompt", "VQ", "MQ", "TA", "Overall",
                    "fps_A", "num_frames_A", "fps_B", "num_frames_B"]


def write_videogen(root: Path, overall: list[str] = ("A", "B", "same", "A"), make_videos: bool = True) -> Path:
    rows = []
    for i, o in enumerate(overall):
        a, b = f"videos/kling1.5/kling1.5_{i:05d}.mp4", f"./videos/minimax/minimax_{i:05d}.mp4"
        if make_videos:
            write_video(root / a, frames(i))
            write_video(root / b.removeprefix("./"), frames(50 + i))
        rows.append([a, b, "kling1.5", "minimax", f"a ball rolls {i}", "A", "B", "same", o, 30.0, 4.0, 25.0, 4.0])
    root.mkdir(parents=True, exist_ok=True)
    path = root / "videogen-rewardbench.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(VIDEOGEN_COLUMNS)
        w.writerows(rows)
    return path


def write_mjbench(root: Path, perspective: str = "alignment", labels: list[int] = (0, 1, 0)) -> Path:
    n = len(labels)
    cols = {"caption": [f"a curious cat {i}" for i in range(n)],
            "image0": [hf_image(png((i, 0, 0))) for i in range(n)],
            "image1": [hf_image(png((0, 0, i + 1))) for i in range(n)], "label": list(labels), "info": [""] * n}
    return write_parquet(root / "data" / f"{perspective}-00000-of-00001.parquet", cols,
                         {"image0": HF_IMAGE, "image1": HF_IMAGE})


def write_pickapic(root: Path, split: str = "test") -> Path:
    labels = [(1.0, 0.0), (0.0, 1.0), (0.5, 0.5), (1.0, 0.0), (0.0, 1.0)]
    n = len(labels)
    cols = {"are_different": [True, True, True, False, True], "best_image_uid": ["u"] * n,
            "caption": [f"a spanish water dog {i}" for i in range(n)],
            "created_at": pa.array([0] * n, type=pa.timestamp("us")).to_pylist(),
            "has_label": [True, True, True, True, False],
            "image_0_uid": [f"a{i}" for i in range(n)], "image_0_url": ["https://x"] * n,
            "image_1_uid": [f"b{i}" for i in range(n)], "image_1_url": ["https://y"] * n,
            "jpg_0": [png((i, 1, 1), fmt="JPEG") for i in range(n)],
            "jpg_1": [png((1, i, 1), fmt="JPEG") for i in range(n)],
            "label_0": [a for a, _ in labels], "label_1": [b for _, b in labels], "model_0": ["sdxl"] * n,
            "model_1": ["sd-2.1"] * n, "ranking_id": list(range(100, 100 + n)), "user_id": [7] * n,
            "num_example_per_prompt": [1] * n, "__index_level_0__": list(range(n))}
    return write_parquet(root / "data" / f"{split}-00000-of-00001.parquet", cols,
                         {"jpg_0": pa.binary(), "jpg_1": pa.binary(), "created_at": pa.timestamp("us")})


def write_hpdv2(root: Path, groups: list[list[int]] = ([2, 0, 1], [0, 1])) -> Path:
    entries = []
    for g, ranks in enumerate(groups):
        paths = []
        for i in range(len(ranks)):
            name = f"{g:04d}_{i}.jpg"
            (root / "test").mkdir(parents=True, exist_ok=True)
            (root / "test" / name).write_bytes(png((g * 40, i * 60, 0), fmt="JPEG"))
            paths.append(name)
        entries.append({"prompt": f"an astronaut riding a horse {g}", "image_path": paths, "rank": list(ranks),
                        "raw_annotations": [{"rank": list(ranks), "user_hash": "a1b2c3"}]})
    path = root / "test.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path
