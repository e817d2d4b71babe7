"""`JudgeSFTConfig`: TRL's `SFTConfig` with UnifiedReward's training defaults and the judge-specific options.

Defaults follow the released recipe (upstream.md §3): learning rate 2.5e-6, cosine schedule, 3% warmup,
3 epochs, per-device batch 2 with 16 accumulation steps, bf16 where the hardware has it, gradient
checkpointing, every part trainable (vision tower, projector, language model), loss on the answer only,
no truncation (a cut would drop image placeholder tokens). A YAML/JSON config file overrides any field, e.g.
the CPU settings of `configs/small-judge.yaml`.

Judge-specific fields (everything else is a `transformers.TrainingArguments` / `trl.SFTConfig` field):

- ``family``: prompt family the data was exported with; read from the export's ``summary.json`` when unset.
  It is written to ``unireward.json`` so `unireward.load_judge` builds the same prompts at inference.
- ``tasks``: train on the rows of these tasks only (single-task judges, the paper's joint-vs-single ablation).
- ``balance_tasks``: every epoch draws the same number of rows from each task (smaller tasks repeated,
  larger ones subsampled) — the paper's lesson from its imbalance ablation. ``group_by_task``: each
  device batch holds rows of one task only (less padding when images-only rows meet 16-frame video pairs).
- ``micro_batches``: run each device batch as N micro-batches of rows of similar length (the same loss and
  gradient with less padding; 1 = the plain padded batch, the default; Qwen-VL layouts only).
- ``freeze_vision_tower``: train only the projector and the language model.
- ``use_peft`` + ``lora_*``: LoRA adapters instead of full fine-tuning; ``merge_lora`` saves a merged model
  (loadable without peft or the base checkpoint) and keeps the adapter under ``adapter/``.
- ``max_pixels`` / ``min_pixels``: per-image pixel budget of the processor (saved with the model).
- ``eval_records``: unified records (a ``records.jsonl``) on which the real judge is run every
  ``eval_judge_steps`` steps and at the end: pairwise accuracy per task, Spearman of pointwise scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trl import SFTConfig


@dataclass
class JudgeSFTConfig(SFTConfig):
    # ---- training defaults of the released judges (upstream.md §3) ----
    learning_rate: float = field(default=2.5e-6, metadata={"help": "Peak learning rate (upstream: 2.5e-6)."})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "Learning-rate schedule (upstream: cosine)."})
    warmup_steps: float = field(default=0.03, metadata={"help": "Warmup steps, or a fraction of training if < 1."})
    num_train_epochs: float = field(default=3.0, metadata={"help": "Epochs (upstream: 3)."})
    per_device_train_batch_size: int = field(default=2, metadata={"help": "Batch size per device (upstream: 2)."})
    gradient_accumulation_steps: int = field(default=16, metadata={"help": "Accumulation steps (upstream: 16)."})
    max_length: int | None = field(default=None, metadata={"help": "No truncation: a cut loses image tokens."})
    completion_only_loss: bool | None = field(default=True, metadata={"help": "Loss on the answer only."})
    save_strategy: str = field(default="steps", metadata={"help": "When to write checkpoints."})
    save_steps: float = field(default=500, metadata={"help": "Checkpoint every N optimizer steps."})
    report_to: str | list[str] = field(default="none", metadata={"help": "Experiment trackers (none by default)."})

    # ---- the judge ----
    family: str | None = field(default=None, metadata={"help": "Prompt family (default: the export's)."})
    tasks: list[str] | None = field(default=None, metadata={"help": "Train on rows of these tasks only."})
    balance_tasks: bool = field(default=True, metadata={"help": "Equal rows per task in every epoch."})
    group_by_task: bool = field(default=False, metadata={"help": "One task per device batch (less padding)."})
    micro_batches: int = field(default=1, metadata={"help": "Run each device batch as N length-sorted micro-batches "
                                                      "(same gradient, less padding; Qwen-VL layouts)."})
    freeze_vision_tower: bool = field(default=False, metadata={"help": "Train projector + LM only."})
    min_pixels: int | None = field(default=None, metadata={"help": "Processor min pixels per image."})
    max_pixels: int | None = field(default=None, metadata={"help": "Processor max pixels per image (upstream 512^2)."})

    # ---- LoRA ----
    use_peft: bool = field(default=False, metadata={"help": "Train LoRA adapters instead of all weights."})
    lora_r: int = field(default=64, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=128, metadata={"help": "LoRA alpha."})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout."})
    lora_target_modules: str | list[str] = field(default="all-linear", metadata={"help": "Modules to adapt."})
    merge_lora: bool = field(default=True, metadata={"help": "Save a merged model (adapter kept in adapter/)."})

    # ---- judge evaluation during training ----
    eval_records: str | None = field(default=None, metadata={"help": "Unified records.jsonl to judge."})
    eval_judge_steps: int | None = field(default=None, metadata={"help": "Judge the eval records every N steps."})
    eval_judge_limit: int | None = field(default=None, metadata={"help": "At most N records per task and form."})
    eval_judge_mode: str = field(default="logprob", metadata={"help": "Judge decoding mode: logprob or generate."})
    eval_judge_batch_size: int = field(default=8, metadata={"help": "Batch size of the judge evaluation."})

    def __post_init__(self):
        if self.micro_batches < 1:
            raise ValueError(f"micro_batches must be at least 1, got {self.micro_batches}")
        from unireward.judges.config import JudgeConfig

        try:  # the judge options are checked in one place
            JudgeConfig(mode=self.eval_judge_mode, batch_size=self.eval_judge_batch_size)
        except ValueError as e:
            raise ValueError(f"eval_judge_mode/eval_judge_batch_size: {e}") from None
        if self.tasks is not None:
            from unireward.tasks import Task

            self.tasks = [Task.parse(t).value for t in self.tasks]
        super().__post_init__()


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None,
                **fields: Any) -> JudgeSFTConfig:
    """A `JudgeSFTConfig` from a YAML/JSON file, then `overrides`, then keyword `fields` (later wins)."""
    return load_trainer_config(JudgeSFTConfig, path, overrides, default_output_dir="judge", **fields)


def load_trainer_config(config_cls: type, path: str | Path | None = None, overrides: dict[str, Any] | None = None,
                        default_output_dir: str = "out", **fields: Any) -> Any:
    """A trainer config (`config_cls`, a TRL/transformers arguments dataclass) from a YAML/JSON file, then
    `overrides`, then keyword `fields` (later wins); shared by ``train judge`` and ``align``.

    Unknown keys raise an error that names them; numbers written as strings are read as numbers. Without a
    GPU, ``use_cpu`` is set and bf16 is off unless the file asks for them, so the upstream defaults run
    anywhere.
    """
    from transformers import HfArgumentParser

    values: dict[str, Any] = {}
    if path is not None:
        values.update(_read(Path(path), config_cls.__name__))
    values.update(overrides or {})
    values.update(fields)
    values.setdefault("output_dir", default_output_dir)
    if not _has_accelerator():
        values.setdefault("use_cpu", True)
        values.setdefault("bf16", False)
    try:
        (config,) = HfArgumentParser(config_cls).parse_dict(_coerce(values, config_cls), allow_extra_keys=False)
    except ValueError as e:
        raise ValueError(f"{path or 'config'}: {e}") from None
    return config


def _coerce(values: dict[str, Any], config_cls: type) -> dict[str, Any]:
    """Numbers written as strings (YAML reads ``1e-3`` as a string) become numbers for numeric fields."""
    fields = config_cls.__dataclass_fields__
    out = dict(values)
    for key, value in values.items():
        if key not in fields or not isinstance(value, str):
            continue
        kind = str(fields[key].type)
        try:
            if "float" in kind:
                out[key] = float(value)
            elif "int" in kind and "str" not in kind:
                out[key] = int(value)
        except ValueError:
            raise ValueError(f"field {key!r} expects a number, got {value!r}") from None
    return out


def _read(path: Path, what: str) -> dict[str, Any]:
    import json

    import yaml

    if not path.is_file():
        raise FileNotFoundError(f"config file {path} not found")
    text = path.read_text()
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a config file must hold a mapping of {what} fields")
    return data


def _has_accelerator() -> bool:
    import torch

    return torch.cuda.is_available() or (hasattr(torch, "xpu") and torch.xpu.is_available())
