"""Fixture writers: small files in each training source's exact on-disk format (datasets.md §1-§8).

Every writer puts a few good rows and a few malformed ones (missing field, unreadable image bytes, unknown
vote or label value ...) into `root`, and returns the input path to convert.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from unireward.media import write_video
from unireward.templates.video_generation import FEEDBACK_DIMS


HF_IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
GARBAGE = b"\xff\xd8\xff this is not a jpeg" * 4  # JPEG magic, undecodable body


def image_bytes(seed: int, fmt: str = "JPEG", size: int = 32) -> bytes:
    arr = np.random.RandomState(seed).randint(0, 255, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


def hf_image(data: bytes | None) -> dict:
    return {"bytes": data, "path": None}


def write_parquet(path: Path, rows: list[dict], schema: pa.Schema, row_group_size: int = 3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, row_group_size=row_group_size)
    return path


def corrupt_row_group(path: Path, group: int) -> Path:
    """Overwrite the first page header of `group`'s first column, as a damaged download would."""
    offset = pq.ParquetFile(path).metadata.row_group(group).column(0).data_page_offset
    data = bytearray(path.read_bytes())
    data[offset:offset + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    return path


def write_json(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1))
    return path


def mp4(path: Path, seed: int, n: int = 10) -> Path:
    rng = np.random.RandomState(seed)
    return write_video(path, [rng.randint(0, 255, (32, 32, 3), dtype=np.uint8) for _ in range(n)])


def frame_folder(folder: Path, seed: int, n: int = 10) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"{folder.name}_{k:02d}.jpg" for k in range(n)]
    for k, name in enumerate(names):
        (folder / name).write_bytes(image_bytes(seed * 100 + k))
    return names


# ---------------------------------------------------------------------------------------------------------- image gen


def write_hpd(root: Path) -> Path:
    """Rapidata 700k: rows 0-2 good (A, B, tie); 3 bad vote; 4 unreadable image; 5 no prompt; 6 no votes."""
    schema = pa.schema([("prompt", pa.string()), ("image1", HF_IMAGE), ("image2", HF_IMAGE),
                        ("votes_image1", pa.int64()), ("votes_image2", pa.int64()), ("model1", pa.string()),
                        ("model2", pa.string()), ("detailed_results", pa.string()), ("image1_path", pa.string()),
                        ("image2_path", pa.string())])
    spec = [("A lighthouse on a cliff at dusk", 14, 7), ("a red fox in snow", 3, 9), ("two cats", 5, 5),
            ("a dog", -1, 4), ("a bird", 2, 1), (None, 1, 0), ("an empty room", 0, 0)]
    rows = []
    for i, (prompt, v1, v2) in enumerate(spec):
        second = GARBAGE if i == 4 else image_bytes(100 + i)
        rows.append({"prompt": prompt, "image1": hf_image(image_bytes(i)), "image2": hf_image(second),
                     "votes_image1": v1, "votes_image2": v2, "model1": "flux", "model2": "dalle3",
                     "detailed_results": "[]", "image1_path": f"flux/{i:05d}.jpg",
                     "image2_path": f"dalle3/{i:05d}.jpg"})
    return write_parquet(root / "hpd" / "data" / "train_0001-00000-of-00001.parquet", rows, schema).parent.parent


def write_oip(root: Path) -> Path:
    """OIP binarized: rows 0-3 good; row 4 has no rejected bytes."""
    schema = pa.schema([("id", pa.string()), ("prompt", pa.string()), ("chosen", HF_IMAGE), ("rejected", HF_IMAGE),
                        ("chosen_model", pa.string()), ("rejected_model", pa.string()), ("evolution", pa.string()),
                        ("category", pa.string()), ("sub_category", pa.string())])
    rows = [{"id": f"{3368 + i}-quality", "prompt": f"a bustling manga street {i}",
             "chosen": hf_image(image_bytes(200 + i)), "rejected": hf_image(None if i == 4 else image_bytes(300 + i)),
             "chosen_model": "black-forest-labs/FLUX.1-dev",
             "rejected_model": "stabilityai/stable-diffusion-3.5-large",
             "evolution": "quality", "category": "Manga", "sub_category": "detailed"} for i in range(5)]
    write_parquet(root / "oip" / "data" / "train-00000-of-00002.parquet", rows[:3], schema)
    write_parquet(root / "oip" / "data" / "train-00001-of-00002.parquet", rows[3:], schema)
    return root / "oip"


def write_pickapic(root: Path) -> Path:
    """Pick-a-Pic v2: rows 0-2 good (A, B, tie); 3 unknown label; 4 has_label false; 5 truncated jpeg."""
    schema = pa.schema([("are_different", pa.bool_()), ("best_image_uid", pa.string()), ("caption", pa.string()),
                        ("created_at", pa.timestamp("us")), ("has_label", pa.bool_()),
                        ("image_0_uid", pa.string()), ("image_0_url", pa.string()), ("image_1_uid", pa.string()),
                        ("image_1_url", pa.string()), ("jpg_0", pa.binary()), ("jpg_1", pa.binary()),
                        ("label_0", pa.float64()), ("label_1", pa.float64()), ("model_0", pa.string()),
                        ("model_1", pa.string()), ("ranking_id", pa.int64()), ("user_id", pa.int64()),
                        ("num_example_per_prompt", pa.int64()), ("__index_level_0__", pa.int64())])
    labels = [(1.0, 0.0), (0.0, 1.0), (0.5, 0.5), (0.3, 0.7), (1.0, 0.0), (0.0, 1.0)]
    rows = []
    for i, (l0, l1) in enumerate(labels):
        j1 = image_bytes(500 + i)
        rows.append({"are_different": True, "best_image_uid": "u0", "caption": f"a spanish water dog {i}",
                     "created_at": None, "has_label": i != 4, "image_0_uid": "u0", "image_0_url": "https://x/0",
                     "image_1_uid": "u1", "image_1_url": "https://x/1", "jpg_0": image_bytes(400 + i),
                     "jpg_1": j1[: len(j1) // 3] if i == 5 else j1, "label_0": l0, "label_1": l1,
                     "model_0": "sdxl", "model_1": "sd-2.1", "ranking_id": 1000 + i, "user_id": 7,
                     "num_example_per_prompt": 1, "__index_level_0__": i})
    return write_parquet(root / "pickapic" / "data" / "train-00000-of-00001.parquet", rows, schema).parent.parent


def write_hpdv2(root: Path) -> Path:
    """HPSv2 layout: train.json (items 0-1 good, 2 bad preference, 3 missing image) + test.json rankings."""
    d = root / "hpdv2"
    for split, n in (("train", 8), ("test", 5)):
        (d / split).mkdir(parents=True)
        for k in range(n):
            (d / split / f"{k:08d}.jpg").write_bytes(image_bytes(600 + 10 * len(split) + k))
    write_json(d / "train.json", [
        {"human_preference": [1, 0], "prompt": "a castle made of candy",
         "file_path": ["00000000.jpg", "00000001.jpg"]},
        {"human_preference": [0, 1], "prompt": "a robot", "file_path": ["00000002.jpg", "00000003.jpg"]},
        {"human_preference": [1, 1], "prompt": "a tree", "file_path": ["00000004.jpg", "00000005.jpg"]},
        {"human_preference": [1, 0], "prompt": "a lake", "file_path": ["00000006.jpg", "99999999.jpg"]},
    ])
    write_json(d / "test.json", [
        {"prompt": "an astronaut riding a horse", "image_path": ["00000000.jpg", "00000001.jpg", "00000002.jpg"],
         "rank": [2, 0, 1], "raw_annotations": [{"rank": [2, 0, 1], "user_hash": "a1b2c3"}]},
        {"prompt": "a bowl of soup", "image_path": ["00000003.jpg", "00000004.jpg"], "rank": [1, 1],
         "raw_annotations": []},
    ])
    return d


def write_evalmuse(root: Path) -> Path:
    """EvalMuse: prompt 00110 has 3 images (means 3.33, 4.67, 1.67), 00111 one image, 00112 two equal ones;
    item 6 has a score out of range, item 7 a missing image."""
    d = root / "evalmuse"
    items = []

    def add(pid: str, model: str, scores, elements, seed: int, write: bool = True):
        rel = f"{model}/{pid}.png"
        if write:
            (d / "images" / model).mkdir(parents=True, exist_ok=True)
            (d / "images" / rel).write_bytes(image_bytes(seed, "PNG"))
        items.append({"prompt_id": pid, "prompt": f"prompt {pid}: a puffin in a booth eating a pastry. Etching",
                      "type": "real", "img_path": rel, "total_score": scores, "element_score": elements,
                      "promt_meaningless": [0, 0, 0], "split_confidence": [0, 0, 0],
                      "attribute_confidence": [1, 1, 1], "fidelity_label": ["no", "no", "no"]})

    elements = {"puffin (animal)": [1, 1, 1], "booth (object)": [0, 1, 0], "eating (activity)": [1, 0, 1],
                "Etching (attribute)": [0, 0, 0]}
    add("00110", "SDXL-Turbo", [4, 3, 3], elements, 1)
    add("00110", "DALLE3", [5, 5, 4], {"puffin (animal)": [1, 1, 0]}, 2)
    add("00110", "SD15", [1, 2, 2], {"puffin (animal)": [0, 0, 1]}, 3)
    add("00111", "SDXL-Turbo", [3, 3, 3], {}, 4)
    add("00112", "SDXL-Turbo", [2, 3, 4], {}, 5)
    add("00112", "DALLE3", [3, 3, 3], {}, 6)
    add("00113", "SDXL-Turbo", [6, 3, 3], {}, 7)
    add("00114", "SDXL-Turbo", [3, 3, 3], {}, 8, write=False)
    write_json(d / "train_list.json", items)
    return d


# ---------------------------------------------------------------------------------------------------------- image und

CRITIC_PAIR = ("Given an image and a corresponding question, please serve as an unbiased and fair judge to evaluate "
               "the quality of the answers provided by a Large Multimodal Model (LMM). Determine which answer is "
               "better and explain your reasoning with specific details. Your task is provided as follows:\n"
               "Question: [{q}]\nThe first response: [{a}]\nThe second response: [{b}]\nASSISTANT:\n")
CRITIC_POINT = ("Given an image and a corresponding question, please serve as an unbiased and fair judge to evaluate "
                "the quality of answer answers provided by a Large Multimodal Model (LMM). Score the response out of "
                "100 and explain your reasoning with specific details. Your task is provided as follows:\n"
                "Question: [{q}]\nThe LMM response: [{a}]\nASSISTANT:\n ")


def _conv(*turns: str) -> list[dict]:
    return [{"from": "human" if i % 2 == 0 else "gpt", "value": t} for i, t in enumerate(turns)]


def write_llava_critic(root: Path) -> Path:
    """pairwise rows: 0 B, 1 A ([Question] layout), 2 tie, 3 no verdict, 4 unreadable image.
    pointwise rows: 0 85/[0,100] (two exchanges), 1 7/[1,10], 2 6/[0,10] from 'N/M', 3 multiple choice,
    4 score outside the scale, 5 unknown layout."""
    d = root / "llava_critic"
    schema = pa.schema([("id", pa.string()), ("source", pa.string()),
                        ("conversations", pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))),
                        ("image", HF_IMAGE)])
    q = "What is on the table?"
    pair = [
        _conv("<image>\n" + CRITIC_PAIR.format(q=q, a="A dog.", b="A cup [ceramic]."),
              "The first response is wrong: there is no dog. Therefore, the second response is better."),
        _conv("<image>\nYou are a fair evaluator. [Question] What colour is the car? [Response 1] Red. "
              "[Response 2] Blue.", "The car is red. Response 1 is better than Response 2."),
        _conv("<image>\n" + CRITIC_PAIR.format(q=q, a="A cup.", b="A mug."),
              "Both name the object correctly. Both responses are equally good."),
        _conv("<image>\n" + CRITIC_PAIR.format(q=q, a="A cup.", b="A mug."), "Both have merits and flaws."),
        _conv("<image>\n" + CRITIC_PAIR.format(q=q, a="A cup.", b="A dog."), "Response 1 is better."),
    ]
    rows = [{"id": f"vlfeedback_{i}", "source": "VLFeedback", "conversations": c,
             "image": hf_image(GARBAGE if i == 4 else image_bytes(700 + i))} for i, c in enumerate(pair)]
    write_parquet(d / "pairwise" / "train-00000-of-00001.parquet", rows, schema)
    point = [
        _conv("<image>\nDescribe the image.", "A table with a cup.",
              "<image>\n" + CRITIC_POINT.format(q=q, a="A cup of tea."),
              "The response is accurate and concise.\nFinal Score: 85"),
        _conv("<image>\nRate the answer on a scale from 1 to 10.\n[Question] Count the apples. [Response] Three.",
              "There are three apples. Rating: [[7]]"),
        _conv("<image>\n[Question] Is it raining? [Response] Yes.", "It is sunny, so this is wrong: 2/10. Score: 2"),
        _conv("<image>\n" + CRITIC_POINT.format(q=q, a="A cup."), "The answer is (B)."),
        _conv("<image>\n" + CRITIC_POINT.format(q=q, a="A cup."), "Final Score: 120"),
        _conv("<image>\nJudge this: a cup.", "Final Score: 50"),
    ]
    rows = [{"id": f"llava_wild_{i}", "source": "LLaVA-W", "conversations": c, "image": hf_image(image_bytes(800 + i))}
            for i, c in enumerate(point)]
    write_parquet(d / "pointwise" / "train-00000-of-00001.parquet", rows, schema)
    return d


# ---------------------------------------------------------------------------------------------------------- video gen


def write_videodpo(root: Path) -> Path:
    """VideoDPO data folder: pairs 0-2 good (2 takes its caption from metadata); 3 bad index; 4 clip without path."""
    d = root / "videodpo" / "vidpro"
    clips = []
    for k in range(4):
        rel = f"videos/prompt_{k // 2:04d}_sample_{k % 2}.mp4"
        mp4(d / rel, 900 + k)
        clips.append({"basic": {"clip_path": rel, "clip_duration": 2.0},
                      "misc": {"frame_caption": [f"caption of clip {k}"]}})
    clips.append({"basic": {"clip_duration": 2.0}, "misc": {"frame_caption": ["no path"]}})
    write_json(d / "metadata.json", clips)
    write_json(d / "pair.json", [
        {"video1": 0, "video2": 1, "frame_caption": ["A corgi running on a beach at sunset"], "score": 0.63},
        {"video1": 3, "video2": 2, "frame_caption": "a cat playing piano", "score": 0.5},
        {"video1": 1, "video2": 0, "label": 1},
        {"video1": 0, "video2": 9, "frame_caption": "bad index"},
        {"video1": 4, "video2": 0, "frame_caption": "clip without path"},
    ])
    return d.parent


LIFT_Q = {
    "semantic consistency": " Please identify the semantic consistency issues in this video, focusing on the "
                            "alignment between the text and the visual content.",
    "fidelity": " Please identify the fidelity issues in this video, assessing the realism of the content, including "
                "people, animals, and other objects. Highlight any problems such as missing limbs.",
    "motion": " Please identify the motion issues in this video, focusing on the continuity and smoothness of "
              "actions, as well as their coherence and adherence to the laws of physics.",
}


def write_lift_hra(root: Path) -> Path:
    """LiFT-HRA: video 0 rated on all three dimensions (items 0, 1, 3), video 1 on two (2, 4); item 5 has an
    unknown rating, item 6 repeats a dimension, item 7 names no dimension."""
    d = root / "lift_hra"
    videos = ["videos/HRA_part0/cogvideox_000123.mp4", "videos/HRA_part0/cogvideox_000124.mp4"]
    for k, v in enumerate(videos):
        mp4(d / v, 1000 + k)
    cap = ["A fluffy panda wears a futuristic spacesuit", "A red car drives through rain"]

    def item(k: int, dim: str | None, answer: str) -> dict:
        question = LIFT_Q[dim] if dim else " Is this video nice?"
        return {"video": videos[k], "conversations": [{"from": "human", "value": f"<video>\n {cap[k]}{question}"},
                                                      {"from": "gpt", "value": answer}]}

    write_json(d / "LiFT-HRA-data.json", [
        item(0, "semantic consistency", "Good. The panda and the spacesuit match the caption."),
        item(0, "fidelity", "Bad. The panda's limbs are missing in the video."),
        item(1, "motion", "Normal. The car stutters."),
        item(0, "motion", "Normal. Slight jitter."),
        item(1, "fidelity", "Good. Realistic."),
        item(1, "semantic consistency", "Excellent! Great video."),
        item(0, "fidelity", "Good. Second opinion."),
        item(1, None, "Good."),
    ])
    return d


def write_videofeedback(root: Path) -> Path:
    """VideoFeedback JSON + frames_annotated/<id>/: items 0-1 good, 2 has a dimension of 5, 3 no frames."""
    d = root / "videofeedback"
    dims = [(3, 2, 3, 3, 2), (4, 4, 4, 4, 4), (5, 1, 1, 1, 1), (1, 1, 1, 1, 1)]
    items = []
    for k, scores in enumerate(dims):
        vid = str(2000118 + k)
        names = frame_folder(d / "frames_annotated" / vid, 1100 + k) if k != 3 else [f"{vid}_00.jpg"]
        row = {"id": vid, "images": names, "text prompt": f"a teddy bear playing guitar {k}",
               "video link": f"https://example/{vid}.mp4",
               "conversations": [{"from": "human", "value": "<image> " * len(names)}, {"from": "gpt", "value": ""}]}
        row.update(dict(zip(FEEDBACK_DIMS, scores, strict=True)))
        items.append(row)
    write_json(d / "data_annotated.json", items)
    return d


# ---------------------------------------------------------------------------------------------------------- video und


def write_sharegptvideo(root: Path) -> Path:
    """Repository layout: lines 1-2 good, 3 invalid JSON, 4 no chosen_score, 5 missing frame folder."""
    d = root / "sharegptvideo"
    for k, vid in enumerate(("v_abc123", "v_def456")):
        frame_folder(d / "train_300k" / vid, 1200 + k, n=12)
    good = {"id": "v_abc123_0", "video": "v_abc123",
            "prompt": "<video>\nWhat is the man doing after he opens the fridge?",
            "answer": "He takes out a bottle of milk.",
            "chosen": "After opening the fridge, the man takes out a bottle of milk.",
            "rejected": "The man closes the fridge and leaves.", "chosen_score": 4.0, "rejected_score": 2.0}
    lines = [json.dumps(good),
             json.dumps({**good, "id": "v_def456_1", "video": "v_def456", "chosen_score": 5, "rejected_score": 3.5}),
             '{"id": "broken", ',
             json.dumps({k: v for k, v in good.items() if k != "chosen_score"} | {"id": "no_score"}),
             json.dumps({**good, "id": "v_missing_0", "video": "v_missing"})]
    path = d / "video_instruction" / "train" / "dpo" / "sft_dpo_17k.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n")
    return path


WRITERS = {"hpd": write_hpd, "hpdv2": write_hpdv2, "evalmuse": write_evalmuse, "oip": write_oip,
           "pickapic": write_pickapic, "llava_critic": write_llava_critic, "videodpo": write_videodpo,
           "lift_hra": write_lift_hra, "videofeedback": write_videofeedback, "sharegptvideo": write_sharegptvideo}
