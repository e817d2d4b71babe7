"""Judge training: supervised fine-tuning of a VLM judge on unified data with TRL (`unireward train judge`).

`train_judge(data, model, output, config)` fine-tunes any backbone the `hf` judge backend loads on a
``trl`` export (``unireward data build ... --format trl``) and saves a folder `unireward.load_judge` opens.
`JudgeSFTConfig` holds the upstream hyper-parameters as defaults; `load_config(file)` reads overrides.
Launch configs for several GPUs (accelerate + DeepSpeed ZeRO-2/3) are in ``train/configs/``; see
docs/train.md. Using it needs the ``train`` extra (trl, peft, accelerate, datasets); the names below load
on first use, so `unireward --help` does not import TRL.
"""

import importlib
from typing import Any


_EXPORTS = {
    "JudgeSFTConfig": "unireward.train.config",
    "load_config": "unireward.train.config",
    "JudgeEvalCallback": "unireward.train.trainer",
    "JudgeSFTTrainer": "unireward.train.trainer",
    "train_judge": "unireward.train.trainer",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'unireward.train' has no attribute {name!r}")
    from unireward.data.sources.common import require_module

    require_module("trl", "train")  # a clear error naming the extra
    return getattr(importlib.import_module(_EXPORTS[name]), name)
