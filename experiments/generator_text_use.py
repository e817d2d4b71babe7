"""Does a small generator read its caption's position words? The denoising loss on correct renders of position
captions ("a red circle at the top left"), at several noise levels, with the true caption, with its position
swapped (top left <-> bottom right, left <-> right, ...), and with no caption.

    python experiments/generator_text_use.py runs/t2i-sd3 [--n 128]

If the swapped caption costs no more than the true one, the denoiser ignores position words at that noise level
whatever its samples look like; the gap between no caption and the true one is what the rest of the caption buys.
Works for any diffusers family `unireward align diffusion` trains (noise levels are σ for flow models and
t / 1000 for DDPM ones), through the same noise and prediction code. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import re

import torch


SWAP = {"top left": "bottom right", "bottom right": "top left", "top right": "bottom left",
        "bottom left": "top right", "top": "bottom", "bottom": "top", "left": "right", "right": "left",
        "center": "top left"}
POSITION = re.compile(r"^(a .*) at the (.*)$")


def position_batch(n: int, size: int, seed: int = 1000) -> tuple[list[str], torch.Tensor]:
    """`n` train-split captions that place one object, with correct renders (as the generator trained on)."""
    from unireward.train.generator import GeneratorSettings, batch_at

    s, caps, xs, step = GeneratorSettings(batch=32, size=size), [], [], seed
    while len(caps) < n:
        for c, x in zip(*batch_at(s, step)):
            if POSITION.match(c):
                caps.append(c)
                xs.append(x)
        step += 1
    return caps[:n], torch.stack(xs[:n])


def swapped(caption: str) -> str:
    m = POSITION.match(caption)
    return f"{m.group(1)} at the {SWAP[m.group(2)]}"


@torch.no_grad()
def text_use(generator: str, n: int = 128, levels: tuple[float, ...] = (0.3, 0.6, 0.8, 0.9, 0.97)) -> dict:
    from unireward.align.diffusion_models import Family, NoiseSettings
    from unireward.construct.generators import load_pipeline, recorded_text_tokens
    from unireward.train.generator import encode_media

    pipe = load_pipeline(generator)
    fam = Family(pipe, NoiseSettings(), torch.device("cpu"), recorded_text_tokens(generator))
    size = fam.default_size() or 48
    caps, x = position_batch(n, size)
    z0 = encode_media(pipe.vae, x)
    conds = {name: fam.encode_text(c, (size, size)) for name, c in
             (("true", caps), ("swapped", [swapped(c) for c in caps]), ("none", [""] * len(caps)))}
    out = {"generator": generator, "family": fam.name, "captions": n, "loss": {}}
    for level in levels:
        noise = torch.randn(z0.shape, generator=torch.Generator().manual_seed(1))
        t = torch.full((n,), level) if fam.flow else torch.full((n,), round(level * fam.num_train_timesteps))
        noisy, target = fam.noisy_and_target(z0, noise, t)
        out["loss"][str(level)] = {name: round(torch.nn.functional.mse_loss(
            fam.predict(fam.denoiser, noisy, t, c).float(), target).item(), 4) for name, c in conds.items()}
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("generator", help="a diffusers pipeline folder of the synthetic world")
    p.add_argument("--n", type=int, default=128, help="position captions")
    args = p.parse_args(argv)
    result = text_use(args.generator, args.n)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
