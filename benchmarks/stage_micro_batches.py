"""What length-sorted micro-batches save in the small-VLM recipe's language stages (1 alignment, 1b reasoning,
2 judge SFT).

A stage-1b batch mixes the four tasks x two forms, 70-300 tokens a row, so a third of a padded batch is padding;
stage 1 mixes one image with two 8-frame clips; stage 2's batches are TRL's (`train_judge`'s collator, the
shipped config's one-task batches of 8, both forms: a pair row holds two images or clips, a point row one).
`unireward.train.micro_batches.length_sorted_chunks` cuts a batch into micro-batches of rows of similar
length, each padded only to its own longest row, with the loss normalised by the whole batch's token count: the
same loss and gradient (reported: the largest gradient difference), less work. Each step here is a full
training step (forward, backward, AdamW) on the same batches, the variants interleaved step by step on one
model copy each, so machine load hits them alike.

    python benchmarks/stage_micro_batches.py [--model assets/small-judge] [--steps 12] [--stages 1b 1 2]
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="assets/small-judge", help="A Qwen2.5-VL folder (the shipped small judge).")
    ap.add_argument("--steps", type=int, default=12, help="Timed steps per variant (2 more warm up).")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--stages", nargs="+", default=["1b", "1", "2"], choices=["1b", "1", "2"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(json.dumps({"model": args.model, "threads": args.threads, "machine": platform.processor() or
                      platform.machine(), "stages": {name: run(args, name) for name in args.stages}}, indent=1))


MICRO = (1, 2, 4)  # micro-batches per batch; 1 is the plain padded batch


def batches(processor, stage: str, n: int) -> list[dict]:
    from unireward.train.stages import (
        AlignSettings,
        ReasonSettings,
        align_batch,
        describe_example,
        reason_batch,
        reason_example,
    )

    if stage == "2":
        return judge_sft_batches(processor, n)
    if stage == "1b":
        s = ReasonSettings()
        return [reason_batch(processor, [reason_example(k * s.batch + i, "train", s) for i in range(s.batch)])
                for k in range(n)]
    s = AlignSettings()
    return [align_batch(processor, [describe_example(k * s.batch + i, "train", s) for i in range(s.batch)],
                        s.image_size) for k in range(n)]


def judge_sft_batches(processor, n: int) -> list[dict]:
    """Stage 2's batches: TRL's collator over one task's rows at a time (``group_by_task``), tasks in turn."""
    import tempfile

    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    from unireward.train.data import load_sft_dataset
    from unireward.train.small import build_small_data

    paths = build_small_data(tempfile.mkdtemp(prefix="stage2-bench-"), n_train=2 * n, n_test=1)
    rows = load_sft_dataset(paths["sft"]).shuffle(seed=0)
    by_task: dict[str, list[dict]] = {}
    for row in rows:
        by_task.setdefault(row["task"], []).append({k: row[k] for k in ("prompt", "completion", "images")})
    collate = DataCollatorForVisionLanguageModeling(processor, completion_only_loss=True)
    tasks = sorted(by_task)
    return [collate(by_task[tasks[k % 4]][8 * (k // 4):8 * (k // 4 + 1)]) for k in range(n)]


def run(args: argparse.Namespace, stage: str) -> dict:
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    from unireward.train.micro_batches import length_sorted_chunks

    processor = AutoProcessor.from_pretrained(args.model)
    image_token = processor.tokenizer.convert_tokens_to_ids(processor.image_token)
    data, ks = batches(processor, stage, args.steps + 2), MICRO
    models = {}
    for k in ks:
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(args.model)
        model.model.visual.requires_grad_(False)  # stages 1, 1b and 2 (freeze_vision_tower) leave it frozen
        params = [p for p in model.parameters() if p.requires_grad]
        models[k] = (model, params, torch.optim.AdamW(params, lr=1e-4))
    seconds = {k: 0.0 for k in ks}
    for step, batch in enumerate(data):
        for k, (model, _, opt) in models.items():
            start = time.perf_counter()
            sum(model(**part).loss for part in length_sorted_chunks(batch, k, image_token)).backward()
            opt.step()
            opt.zero_grad()
            if step >= 2:
                seconds[k] += time.perf_counter() - start
    # the same gradient: one batch, whole and split, on the first model
    model, params, _ = models[ks[0]]
    grads = []
    for k in (1, ks[-1]):
        model.zero_grad()
        sum(model(**part).loss for part in length_sorted_chunks(data[0], k, image_token)).backward()
        grads.append([p.grad.clone() for p in params])
    real = sum(int(b["attention_mask"].sum()) for b in data)
    padded = {k: sum(p["input_ids"].numel() for b in data for p in length_sorted_chunks(b, k, image_token))
              for k in ks}
    return {"batch": len(data[0]["input_ids"]),
            "seconds_per_step": {f"micro_{k}": round(seconds[k] / args.steps, 4) for k in ks},
            "speedup_vs_whole_batch": {f"micro_{k}": round(seconds[1] / seconds[k], 2) for k in ks[1:]},
            "padding_share": {f"micro_{k}": round(1 - real / padded[k], 3) for k in ks},
            "max_grad_difference": float(max((a - b).abs().max() for a, b in zip(*grads))),
            "max_grad": float(max(a.abs().max() for a in grads[0]))}


if __name__ == "__main__":
    main()
