"""Training rows from a ``trl`` export, and the per-task balanced sampler.

`load_sft_dataset(DIR)` reads what ``unireward data build ... --format trl`` wrote: ``train.jsonl`` (the
conversations), ``records.jsonl`` (the same ids as unified records: the task of every row) and
``summary.json`` (the prompt family). Each conversation becomes TRL's prompt-completion form, the user turn as
the prompt and the answer as the completion, so the loss covers the answer tokens only with any chat template
(no ``{% generation %}`` markers needed), and the prompt is rendered exactly as the judge renders it at
inference (chat template with the generation prompt; TRL puts one image placeholder per image before the text).
Images are decoded lazily, one batch at a time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch


def read_tasks(folder: Path) -> dict[str, str]:
    """Row id -> task, from the export's ``records.jsonl`` (empty when it is missing)."""
    path = folder / "records.jsonl"
    if not path.is_file():
        return {}
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rec = json.loads(line)
                out[rec["id"]] = rec["task"]
    return out


def export_family(folder: str | Path) -> str | None:
    """The prompt family the export was built with (``summary.json``), if recorded."""
    path = Path(folder) / "summary.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get("family")


def _to_prompt_completion(messages: list[dict[str, Any]]) -> dict[str, Any]:
    # Everything up to the last assistant turn is the prompt; that turn is the answer the loss is on.
    if not messages or messages[-1]["role"] != "assistant":
        raise ValueError("a training conversation must end with the assistant's answer")
    return {"prompt": messages[:-1], "completion": messages[-1:]}


def load_sft_dataset(folder: str | Path):
    """The export as a `datasets.Dataset` with ``prompt``, ``completion``, ``images`` (PIL) and ``task``."""
    from unireward.data.export import load_trl_dataset

    folder = Path(folder)
    ds = load_trl_dataset(folder)
    tasks = read_tasks(folder)
    missing = [i for i in ds["id"] if i not in tasks] if tasks else []
    if missing:
        raise ValueError(f"{folder}: {len(missing)} training rows have no record in records.jsonl "
                         f"(first: {missing[0]!r}); rebuild the export")

    def convert(messages: list, rid: str) -> dict[str, Any]:
        return {**_to_prompt_completion(messages), "task": tasks.get(rid, "all")}

    # input_columns keeps the images untouched (no decode / re-encode of every picture)
    return ds.map(convert, input_columns=["messages", "id"], remove_columns=["messages"])


class TaskBalancedSampler(torch.utils.data.Sampler[int]):
    """Indices for one epoch, drawn per task.

    balance: each task contributes the same number of rows (the dataset size divided by the number of
    tasks): a smaller task is repeated (whole shuffled passes first), a larger one subsampled.
    group_size > 1: indices come in runs of `group_size` from one task (one task per device batch when
    `group_size` = per-device batch x processes), the runs in random order.
    The order depends only on (seed, epoch), so a resumed run skips exactly the batches it had seen.
    """

    def __init__(self, groups: list[str], balance: bool = True, group_size: int = 1, seed: int = 0):
        self.groups, self.balance, self.group_size, self.seed = list(groups), balance, max(1, group_size), seed
        self.epoch = 0
        self._by_group: dict[str, np.ndarray] = {}
        for i, g in enumerate(self.groups):
            self._by_group.setdefault(g, []).append(i)
        self._by_group = {g: np.asarray(v) for g, v in sorted(self._by_group.items())}
        n, k = len(self.groups), len(self._by_group)
        self._per_group = {g: (math.ceil(n / k) if balance else len(v)) for g, v in self._by_group.items()}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return sum(self._per_group.values())

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        runs: list[np.ndarray] = []
        for g, idx in self._by_group.items():
            need = self._per_group[g]
            passes = [rng.permutation(idx) for _ in range(math.ceil(need / len(idx)))]
            picks = np.concatenate(passes)[:need]
            runs += [picks[i:i + self.group_size] for i in range(0, need, self.group_size)]
        if self.group_size == 1:
            order = np.concatenate(runs)
            yield from (int(i) for i in order[rng.permutation(len(order))])
            return
        for r in rng.permutation(len(runs)):
            yield from (int(i) for i in runs[r])
