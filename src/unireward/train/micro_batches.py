"""Length-sorted micro-batches: one padded training batch run as a few batches of rows of similar length.

Mixed tasks and forms make one batch's rows 70-300 tokens long (a third of a stage-1b batch, half of a stage-1
batch, was padding). Running the rows as `k` micro-batches sorted by length, each cut to its own longest row,
with the loss of each normalised by the whole batch's count of trained tokens (``num_items_in_batch``), gives
the same loss and gradient for less compute. Used by the staged recipe's loops (`unireward.train.stages`) and by
`train_judge`'s trainer (``micro_batches``). Images follow their rows in the Qwen-VL layout (flat
``pixel_values`` rows, one ``image_grid_thw`` row per image); other layouts are left as one batch.
"""

from __future__ import annotations

from typing import Any

import torch


IGNORE = -100
IMAGES = ("pixel_values", "image_grid_thw")  # the Qwen-VL image layout, divided among rows below


def length_sorted_chunks(batch: dict[str, Any], k: int, image_token_id: int | None = None) -> list[dict[str, Any]]:
    """A right-padded training batch as `k` micro-batches of rows of similar length, each cut to its own longest
    row. Each carries ``num_items_in_batch`` (the whole batch's count of trained tokens), so the micro-batches'
    losses sum to the batch's mean loss and their gradients to its gradient: the same step, with less padding.
    (Mixed tasks make one batch's rows 70-300 tokens long; a third of a stage-1b batch was padding.) Images
    follow their rows: each row owns the next images whose merged tokens it holds."""
    lengths = batch["attention_mask"].sum(1)
    shape = batch["attention_mask"].shape
    other_layout = "pixel_values" in batch and "image_grid_thw" not in batch  # e.g. LLaVA's per-image tiles
    if k <= 1 or len(lengths) < 2 or other_layout or any(_unsplittable(key, v, shape) for key, v in batch.items()):
        return [batch]
    assert bool((batch["attention_mask"][:, 0] == 1).all()), "right padding expected"
    n_items = int((batch["labels"][:, 1:] != IGNORE).sum())
    owned: list[list[int]] = [[] for _ in lengths]  # image indices per row
    if "pixel_values" in batch:
        if "mm_token_type_ids" in batch:
            tokens_per_row = (batch["mm_token_type_ids"] != 0).sum(1).tolist()
        elif image_token_id is not None:
            tokens_per_row = (batch["input_ids"] == image_token_id).sum(1).tolist()
        else:
            raise ValueError("length_sorted_chunks: a batch with images needs mm_token_type_ids or image_token_id")
        patches = batch["image_grid_thw"].prod(-1)
        merge2 = int(patches.sum()) // max(1, sum(tokens_per_row))
        image = 0
        for row, need in enumerate(tokens_per_row):
            while need > 0:
                owned[row].append(image)
                need -= int(patches[image]) // merge2
                image += 1
        starts = torch.cat([torch.zeros(1, dtype=torch.long), patches.cumsum(0)]).tolist()
    out = []
    for rows in torch.argsort(lengths, stable=True).chunk(k):
        rows = rows.sort().values
        width = int(lengths[rows].max())
        part = {key: v[rows, :width] if _per_token(key, v, shape) else v for key, v in batch.items()
                if key not in IMAGES}
        images = [i for r in rows.tolist() for i in owned[r]]
        if "pixel_values" in batch:
            part["image_grid_thw"] = batch["image_grid_thw"][images]
            part["pixel_values"] = torch.cat([batch["pixel_values"][starts[i]:starts[i + 1]] for i in images]) \
                if images else batch["pixel_values"][:0]
        out.append({**part, "num_items_in_batch": n_items})
    return out


def _per_token(key: str, value: Any, shape: torch.Size) -> bool:
    """A (rows, sequence) tensor such as input_ids, labels or mm_token_type_ids."""
    media = ("pixel" in key or "grid" in key or key in ("image_sizes", "second_per_grid_ts"))
    return isinstance(value, torch.Tensor) and value.shape == shape and not media


def _unsplittable(key: str, value: Any, shape: torch.Size) -> bool:
    """A tensor this function cannot divide among rows (native video inputs, LLaVA's tiles, ...): the batch is
    then run whole rather than split wrongly."""
    if not isinstance(value, torch.Tensor) or value.dim() == 0 or _per_token(key, value, shape):
        return False
    return key not in IMAGES
