"""Judge throughput on 64 image-generation pairs with a small (~4 M parameter) Qwen2.5-VL, on this machine.

Times, side by side in one run, on the same pairs and the same model:
  1. one-at-a-time `generate` (the upstream way: one pair per call),
  2. batched `generate`,
  3. batched `logprob` (one forward pass per batch, verdict read from next-token distributions),
  4. the bare model forward on the same batches, inputs already encoded (the floor for 3).
A random model never emits its end token, so both generate variants decode a fixed `--new-tokens` (16, about
the length of "Image 1 is better." plus a little); a checkpoint that writes a rationale only widens the gap.

    python benchmarks/judge_throughput.py [--pairs 64] [--batch-size 16] [--new-tokens 16]
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from unireward.judges.hf import HFJudge
from unireward.tiny_models import build_qwen2_5_vl


def timed(fn, repeats: int = 1) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=16)
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    images = [Image.fromarray(rng.randint(0, 255, (args.image_size, args.image_size, 3), dtype=np.uint8))
              for _ in range(2 * args.pairs)]
    items = [{"task": "image_generation", "prompt": f"a photo of object {i}", "a": images[2 * i],
              "b": images[2 * i + 1]} for i in range(args.pairs)]
    with tempfile.TemporaryDirectory() as d:
        path = build_qwen2_5_vl(Path(d) / "small", size="small")
        gen = HFJudge(path, mode="generate", max_new_tokens=args.new_tokens, batch_size=args.batch_size)
        lp = HFJudge(path, mode="logprob", batch_size=args.batch_size)
        n_params = sum(p.numel() for p in lp.model.parameters())
        lp.compare_batch(items[:2])  # warm-up (allocations, trie)
        gen.compare_batch(items[:1])

        # The bare forward: the same batches, encoded beforehand, logits for every position (a plain call).
        t = lp.template("image_generation", "pair")
        from unireward.judges.base import Choices

        trie = lp._build_trie(Choices(t.logprob_prefixes[""], dict(t.phrases)))
        suffix = lp.tokenizer.decode(trie.rows[0])
        reqs = [lp._request({**x, "task": t.task}, t.form, False) for x in items]
        encoded = [lp.encode(reqs[i:i + args.batch_size], [suffix] * len(reqs[i:i + args.batch_size]))
                   for i in range(0, len(reqs), args.batch_size)]

        def bare():
            with torch.inference_mode():
                for inputs in encoded:
                    lp.model(**inputs)

        results = {
            "one_at_a_time_generate_s": timed(lambda: [gen.compare_batch([x]) for x in items], 1),
            "batched_generate_s": timed(lambda: gen.compare_batch(items), 1),
            "batched_logprob_s": timed(lambda: lp.compare_batch(items), args.repeats),
            "bare_forward_s": timed(bare, args.repeats),
        }
    r = results
    print(json.dumps({
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, {platform.processor() or 'cpu'}",
        "model_params_M": round(n_params / 1e6, 2), "pairs": args.pairs, "batch_size": args.batch_size,
        "new_tokens": args.new_tokens, "image_size": args.image_size,
        **{k: round(v, 3) for k, v in r.items()},
        "pairs_per_s_logprob": round(args.pairs / r["batched_logprob_s"], 1),
        "speedup_logprob_vs_one_at_a_time_generate": round(r["one_at_a_time_generate_s"] / r["batched_logprob_s"], 2),
        "speedup_batched_generate_vs_one_at_a_time": round(r["one_at_a_time_generate_s"] / r["batched_generate_s"], 2),
        "logprob_over_bare_forward": round(r["batched_logprob_s"] / r["bare_forward_s"], 3),
    }, indent=2))


if __name__ == "__main__":
    main()
