"""How well a staged small VLM (stage 1 or later) describes held-out media: exact lines, and per word class.

    python experiments/describe_accuracy.py runs/small-judge/stage1 --n 240

Greedy descriptions ("Describe the image(s)/video(s).", stage 1's request) of `--n` val examples (half images,
half clips; the examples after stage 1's own probe), compared line by line with the true descriptions: the
share of exact lines, and on lines whose truth names a motion speed, a direction or a shape, the share where
the model names the same ones in the same order. Prints JSON: {metric: [share, lines]}.
"""

from __future__ import annotations

import argparse
import json
import os
import re

from unireward.synth.world import DIRECTIONS as _DIRECTIONS
from unireward.synth.world import SPEEDS as _SPEEDS


SPEEDS, DIRECTIONS = tuple(_SPEEDS), tuple(_DIRECTIONS)  # the words the descriptions use


def word_match(truth: str, said: str, vocab: tuple[str, ...]) -> bool | None:
    """Same words of `vocab` in the same order (None: the truth has none)."""
    want = [w for w in re.findall(r"[a-z]+", truth) if w in vocab]
    got = [w for w in re.findall(r"[a-z]+", said) if w in vocab]
    return None if not want else want == got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="A stage 1 (or later) model folder.")
    ap.add_argument("--n", type=int, default=240, help="Val examples (half images, half clips).")
    ap.add_argument("--start", type=int, default=1000, help="First val example index (stage 1 probes 0..31).")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    from unireward.synth.world import SHAPES, Scene
    from unireward.train.stages import AlignSettings, describe_example, describe_media

    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(args.model).eval()
    processor = AutoProcessor.from_pretrained(args.model)
    s = AlignSettings()
    examples = [describe_example(i, "val", s) for i in range(args.start, args.start + args.n)]
    said: list[str] = []
    for i in range(0, len(examples), 16):
        said += describe_media(model, processor, examples[i:i + 16], s.image_size, 96)
    hits: dict[str, list[float]] = {}
    for (media, _, truth), text in zip(examples, said):
        kind = "image" if isinstance(media[0], Scene) else "clip"
        got = text.strip().split("\n")
        for i, want in enumerate(truth.split("\n")):
            line = got[i].strip() if i < len(got) else ""
            hits.setdefault(f"{kind}_lines_exact", []).append(float(line == want))
            classes = {"shape": SHAPES} | ({"speed": SPEEDS, "direction": DIRECTIONS} if kind == "clip" else {})
            for name, vocab in classes.items():
                ok = word_match(want, line, vocab)
                if ok is not None:
                    hits.setdefault(f"{kind}_{name}_words", []).append(float(ok))
    print(json.dumps({k: [round(sum(v) / len(v), 4), len(v)] for k, v in sorted(hits.items())}))


if __name__ == "__main__":
    main()
