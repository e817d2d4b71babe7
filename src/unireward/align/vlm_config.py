"""`VLMDPOConfig`: TRL's `DPOConfig` with UnifiedReward's understanding-DPO defaults and the VLM options.

Defaults follow the paper and the upstream DPO scripts (upstream.md §4, "VLM DPO"): β 0.1, sigmoid loss, no
SFT term, learning rate 5e-7, cosine schedule, warmup 0.3 of training, 3 epochs, per-device batch 1 with 8
accumulation steps (the image run; the video run uses 16), every part trainable, bf16 where the hardware has
it, gradient checkpointing. A YAML/JSON file (see ``align/configs/``) overrides any field.

Where the defaults differ from the upstream scripts (docs/align.md lists them):
- ``max_length`` is None: no truncation (upstream cuts at 10000 / 32768 tokens; a cut here would drop image
  or video placeholder tokens and TRL would fail on the mismatch).
- ``save_strategy`` "steps" every 500 optimizer steps (so ``--resume`` has something to resume from) and
  ``report_to`` "none" (no tracker unless asked).
- ``remove_unused_columns`` False: the ``videos`` column must reach the collator (TRL's column filter keeps
  only ``images``).

VLM options (everything else is a `transformers.TrainingArguments` / `trl.DPOConfig` field):
- ``num_frames`` (8) and ``max_pixels`` (512²): a video is sampled to K frames uniformly and every image
  or frame is shrunk to the pixel budget, exactly as `unireward construct`'s ``vlm:`` generator feeds them,
  so the model is trained on the inputs it sampled its answers from.
- ``video_as``: "video" feeds the frames as a native video input (Qwen-VL, LLaVA-OneVision video
  processors); "frames" feeds them as K images (as upstream fed LLaVA-Video during construction).
- ``add_system_prompt``: prompts without a system turn get the architecture's default system turn
  (LLaVA-OneVision: "You are a helpful assistant.") — what construct's generator adds when sampling.
- ``freeze_vision_tower``: train the projector and the language model only.
- ``use_peft`` + ``lora_*``: LoRA instead of full fine-tuning; the saved model is merged (loads without
  peft), the adapter is kept in ``adapter/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trl import DPOConfig


VIDEO_AS = ("video", "frames")


@dataclass
class VLMDPOConfig(DPOConfig):
    # ---- the paper's understanding-DPO settings (upstream.md §4) ----
    beta: float = field(default=0.1, metadata={"help": "DPO beta (upstream: 0.1)."})
    loss_type: list[str] = field(default_factory=lambda: ["sigmoid"], metadata={"help": "DPO loss (sigmoid)."})
    learning_rate: float = field(default=5e-7, metadata={"help": "Peak learning rate (upstream: 5e-7)."})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "Learning-rate schedule (upstream: cosine)."})
    warmup_steps: float = field(default=0.3, metadata={"help": "Warmup steps, or a fraction of training if < 1."})
    num_train_epochs: float = field(default=3.0, metadata={"help": "Epochs (upstream: 3)."})
    per_device_train_batch_size: int = field(default=1, metadata={"help": "Pairs per device (upstream: 1)."})
    gradient_accumulation_steps: int = field(default=8, metadata={"help": "Upstream: 8 image, 16 video."})
    max_length: int | None = field(default=None, metadata={"help": "No truncation: a cut loses media tokens."})
    remove_unused_columns: bool = field(default=False, metadata={"help": "Keep `videos` for the collator."})
    save_strategy: str = field(default="steps", metadata={"help": "When to write checkpoints."})
    save_steps: float = field(default=500, metadata={"help": "Checkpoint every N optimizer steps."})
    report_to: str | list[str] = field(default="none", metadata={"help": "Experiment trackers (none by default)."})

    # ---- media ----
    num_frames: int = field(default=8, metadata={"help": "Frames sampled uniformly from each video."})
    max_pixels: int | None = field(default=512 * 512, metadata={"help": "Pixel budget per image or frame."})
    min_pixels: int | None = field(default=None, metadata={"help": "Processor min pixels per image (Qwen-VL)."})
    video_as: str = field(default="video", metadata={"help": "Feed videos as 'video' (native) or 'frames'."})
    add_system_prompt: bool = field(default=True, metadata={"help": "Add the architecture's system turn."})

    # ---- what trains ----
    freeze_vision_tower: bool = field(default=False, metadata={"help": "Train projector + LM only."})
    use_peft: bool = field(default=False, metadata={"help": "Train LoRA adapters instead of all weights."})
    lora_r: int = field(default=64, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=128, metadata={"help": "LoRA alpha."})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout."})
    lora_target_modules: str | list[str] = field(default="all-linear", metadata={"help": "Modules to adapt."})
    merge_lora: bool = field(default=True, metadata={"help": "Save a merged model (adapter kept in adapter/)."})

    def __post_init__(self):
        if self.video_as not in VIDEO_AS:
            raise ValueError(f"video_as must be one of {VIDEO_AS}, got {self.video_as!r}")
        if self.num_frames < 1:
            raise ValueError(f"num_frames must be at least 1, got {self.num_frames}")
        super().__post_init__()


def load_vlm_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None,
                    **fields: Any) -> VLMDPOConfig:
    """A `VLMDPOConfig` from a YAML/JSON file, then `overrides`, then keyword `fields` (later wins); the rules
    are `unireward.train.config.load_trainer_config`'s (unknown keys named, no GPU -> use_cpu and no bf16)."""
    from unireward.train.config import load_trainer_config

    return load_trainer_config(VLMDPOConfig, path, overrides, default_output_dir="aligned", **fields)
