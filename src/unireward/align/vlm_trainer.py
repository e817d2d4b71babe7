"""The pieces `unireward.align.vlm.align_vlm` runs: the trainer, the collator, logging, saving, merging.

Kept apart from `unireward.align.vlm` (the command line) so that `unireward --help` does not import TRL.

Design choices a user will notice:
- `VLMDPOTrainer` is TRL's `DPOTrainer` with one fix: resuming a full fine-tune loads the checkpoint's weights
  through ``from_pretrained``. transformers 5 saves Qwen-VL / LLaVA weights under their original key names and
  `Trainer` reloads them without renaming, so a resumed run would silently restart from the base weights
  (huggingface/transformers#43701). LoRA, DeepSpeed and FSDP checkpoints use TRL's own path.
- The reference model is TRL's: a frozen copy loaded from the same path (LoRA: the adapter switched off).
- ``OUT/log.jsonl``: one JSON object per log record (step, epoch, loss, rewards/…, learning rate), appended.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from transformers import AutoProcessor, TrainerCallback
from trl import DPOTrainer

from unireward.align.collate import PreferenceCollator
from unireward.align.vlm_config import VLMDPOConfig, load_vlm_config
from unireward.align.vlm_data import load_preference_data
from unireward.judges.arch import get_arch
from unireward.train.trainer import CheckpointResumeMixin, freeze_vision_tower, lora_config


ALIGN_FILE = "unireward_align.json"
LOG_FILE = "log.jsonl"


class VLMDPOTrainer(CheckpointResumeMixin, DPOTrainer):
    """`DPOTrainer` whose full-model resume renames checkpoint keys as ``from_pretrained`` does."""


class JsonLogCallback(TrainerCallback):
    """Appends every log record to a JSONL file (main process only)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"step": state.global_step, "epoch": state.epoch, **logs}) + "\n")


def vlm_trainer(data: str | Path | Sequence[str | Path], model: str | Path, output: str | Path,
                config: VLMDPOConfig | None = None, callbacks: list | None = None) -> VLMDPOTrainer:
    """The trainer `align_vlm` runs: checked data, the images + videos collator, LoRA or a frozen tower."""
    config = config or load_vlm_config()
    output = Path(output)
    config.output_dir = str(output)
    dataset = load_preference_data(data)
    processor = AutoProcessor.from_pretrained(str(model))
    trainer = VLMDPOTrainer(model=str(model), args=config, train_dataset=dataset, processing_class=processor,
                            data_collator=make_collator(processor, model, config),
                            peft_config=lora_config(config) if config.use_peft else None,
                            callbacks=[JsonLogCallback(output / LOG_FILE), *(callbacks or [])])
    if config.freeze_vision_tower and not config.use_peft:
        freeze_vision_tower(trainer.model)
    return trainer


def make_collator(processor: Any, model: str | Path, config: VLMDPOConfig) -> PreferenceCollator:
    """The images + videos collator with the config's media settings and the architecture's system turn."""
    from transformers import AutoConfig

    arch = get_arch(AutoConfig.from_pretrained(str(model)).model_type)
    return PreferenceCollator(processor=processor, max_length=config.max_length, num_frames=config.num_frames,
                              max_pixels=config.max_pixels, video_as=config.video_as,
                              system_prompt=arch.system_prompt if config.add_system_prompt else None)


def settings(config: VLMDPOConfig) -> dict[str, Any]:
    keys = ("beta", "loss_type", "learning_rate", "lr_scheduler_type", "warmup_steps", "num_train_epochs",
            "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps", "num_frames", "max_pixels",
            "video_as", "add_system_prompt", "freeze_vision_tower", "use_peft", "lora_r", "seed")
    return {k: getattr(config, k) for k in keys}


def has_checkpoint(output: Path) -> bool:
    from transformers.trainer_utils import get_last_checkpoint

    return output.is_dir() and get_last_checkpoint(str(output)) is not None


def save_aligned(trainer: VLMDPOTrainer, output: Path, meta: dict[str, Any]) -> None:
    """Weights (LoRA merged from the saved adapter), processor and ``unireward_align.json`` in `output`.

    Call on every process: `Trainer.save_model` gathers ZeRO-3 shards. The LoRA merge reloads the base model
    on the main process and applies the saved adapter, so it works under ZeRO-3 too (it needs the base
    model's size in CPU memory).
    """
    config: VLMDPOConfig = trainer.args
    if config.use_peft and config.merge_lora:
        trainer.save_model(str(output / "adapter"))
        if trainer.is_world_process_zero():
            merge_adapter(meta["base_model"], output / "adapter", output)
    else:
        trainer.save_model(str(output))
    if trainer.is_world_process_zero():
        trainer.processing_class.save_pretrained(output)
        (output / ALIGN_FILE).write_text(json.dumps(meta, indent=2, default=str) + "\n")


def merge_adapter(base_model: str | Path, adapter: Path, output: Path) -> None:
    """Base model + LoRA adapter → one merged model saved in `output` (loads without peft)."""
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText

    base = AutoModelForImageTextToText.from_pretrained(str(base_model), dtype="auto")
    PeftModel.from_pretrained(base, str(adapter)).merge_and_unload().save_pretrained(output)
