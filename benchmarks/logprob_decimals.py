"""What reading decimal scores costs in logprob mode (hf backend), with a small (~4 M parameter) Qwen2.5-VL,
and what running the prompt once for all rows saves.

The image-generation pointwise template (1-5) is read over the integers (decimals=0), the one-decimal grid
and the two-decimal grid, on the same items and the same model; each grid needs more rows per prompt (1, 5
and 41: see `unireward.judges.hf`). The 0-100 integer scale (9 rows) is shown too. Each grid is timed both
ways, side by side: `joined` runs every row as its own prompt + answer sequence (the prompt and its image
repeated per row), `shared` runs the prompt once and repeats its KV cache per row (the default; with one row
both ways run the same code, so that ratio shows the timing noise). The largest
difference in an option's log-probability between the two ways is reported with the ratio.

    python benchmarks/logprob_decimals.py [--items 8] [--batch-size 4] [--repeats 3]
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from unireward.judges.base import Choices, numeral_options
from unireward.judges.hf import HFJudge
from unireward.tasks import Form, Task
from unireward.tiny_models import build_qwen2_5_vl


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    rng = np.random.RandomState(0)
    with tempfile.TemporaryDirectory() as tmp:
        judge = HFJudge(build_qwen2_5_vl(Path(tmp) / "m", size="small"), mode="logprob", device="cpu")
        items = [{"task": Task.IMAGE_GENERATION, "prompt": f"a red fox number {i}",
                  "candidate": Image.fromarray(rng.randint(0, 255, (128, 128, 3), dtype=np.uint8))}
                 for i in range(args.items)]
        requests = [judge._request(x, Form.POINT, False) for x in items]
        base = judge.template("image_generation", "point")
        cases = [(f"1-5, decimals={d}", replace(base, decimals=d)) for d in (0, 1, 2)]
        cases.append(("0-100, decimals=0", judge.template("image_understanding", "point")))
        out = {"machine": platform.processor() or platform.machine(), "items": args.items,
               "batch_size": args.batch_size, "results": []}
        for name, t in cases:
            if t.task == Task.IMAGE_UNDERSTANDING:
                reqs = [judge._request({"task": Task.IMAGE_UNDERSTANDING, "prompt": "What is shown?",
                                        "media": x["candidate"], "candidate": "A fox."}, Form.POINT, False)
                        for x in items]
            else:
                reqs = requests
            options = numeral_options(*t.scale, t.decimals)
            rows = len(judge._build_trie(Choices(t.logprob_prefixes[""], options, True)).rows)
            chunks = [reqs[i:i + args.batch_size] for i in range(0, len(reqs), args.batch_size)]
            timing, probs = {}, {}
            for way, share in (("joined", False), ("shared", True)):
                judge.share_prompt = share
                judge._run_chunk(t, chunks[0])  # warm up
                start = time.perf_counter()
                for _ in range(args.repeats):
                    for chunk in chunks:
                        judge._run_chunk(t, chunk)
                timing[way] = (time.perf_counter() - start) / args.repeats / len(reqs)
                probs[way] = judge._choice_probs(chunks[0], Choices(t.logprob_prefixes[""], options, True))
            diff = max(abs(math.log(a[k]) - math.log(b[k]))
                       for a, b in zip(probs["joined"], probs["shared"]) for k in a)
            out["results"].append({"grid": name, "options": len(options), "rows_per_prompt": rows,
                                   "seconds_per_item_joined": round(timing["joined"], 4),
                                   "seconds_per_item_shared": round(timing["shared"], 4),
                                   "speedup_shared": round(timing["joined"] / timing["shared"], 2),
                                   "max_abs_logprob_diff": float(f"{diff:.2e}")})
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
