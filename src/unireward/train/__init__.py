"""Judge training: supervised fine-tuning of a VLM judge on unified data with TRL (`unireward train judge`).

`train_judge(data, model, output, config)` fine-tunes any backbone the `hf` judge backend loads on a
``trl`` export (``unireward data build ... --format trl``) and saves a folder `unireward.load_judge` opens.
`JudgeSFTConfig` holds the upstream hyper-parameters as defaults; `load_config(file)` reads overrides.
Launch configs for several GPUs (accelerate + DeepSpeed ZeRO-2/3) are in ``train/configs/``; see
docs/train.md. Importing this package needs the ``train`` extra (trl, peft, accelerate, datasets).
"""

from unireward.data.sources.common import require_module


require_module("trl", "train")  # a clear error naming the extra, before the imports below need it

from unireward.train.config import JudgeSFTConfig, load_config  # noqa: E402
from unireward.train.trainer import JudgeEvalCallback, JudgeSFTTrainer, train_judge  # noqa: E402


__all__ = ["JudgeEvalCallback", "JudgeSFTConfig", "JudgeSFTTrainer", "load_config", "train_judge"]
