"""`align_vlm`: DPO of a vision-language model on preference pairs, images and videos, with TRL's `DPOTrainer`.

    from unireward.align.vlm import align_vlm
    from unireward.align.vlm_config import load_vlm_config
    align_vlm("pairs/", "llava-hf/llava-onevision-qwen2-7b-ov-hf", "runs/ov-dpo", load_vlm_config())

Design choices a user will notice:
- Data: a `unireward construct` output folder or any TRL preference dataset (hub id, folder, file); every row
  is checked first and all bad rows are reported at once, by row (`unireward.align.vlm_data`).
- Models: Qwen2-VL, Qwen2.5-VL, Qwen3-VL and LLaVA-OneVision (LLaVA-Video's transformers conversion is a
  LLaVA-OneVision model), hub id or folder. TRL loads the policy (float32 unless ``model_init_kwargs`` says
  otherwise; bf16 autocast on GPUs) and the reference from the same path, so DeepSpeed ZeRO-3 can partition
  both; with LoRA the reference is the policy with its adapter disabled.
- Videos: `unireward.align.collate.PreferenceCollator` (the video path TRL lacks): K frames per video, native
  video input or K images (``video_as``).
- The paper's settings are the defaults (`VLMDPOConfig`); ``freeze_vision_tower`` trains projector + LM.
- Logging: TRL's metrics (loss, rewards/chosen, rejected, accuracies, margins, logps …) every
  ``logging_steps`` go to the console, to the configured trackers and, one JSON object per line, to
  ``OUT/log.jsonl`` (appended on resume). Progress is the trainer's progress bar.
- Checkpoints ``OUT/checkpoint-N`` every ``save_steps``; ``resume=True`` continues from the last one
  (optimizer, scheduler, RNG, data order), so the next step's loss equals the uninterrupted run's.
- Output: ``OUT`` holds the full model and its processor (LoRA merged; adapter kept in ``OUT/adapter``), and
  ``unireward_align.json`` (base model, data, settings, steps). It loads with
  ``AutoModelForImageTextToText.from_pretrained(OUT)`` and as construct's ``vlm:OUT`` generator, so round
  k+1 of construct → DPO starts from round k (the reference of round k+1 is the round-k model).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer


ALIGN_FILE = "unireward_align.json"
LOG_FILE = "log.jsonl"


def align_vlm(data: str | Path, model: str | Path, output: str | Path, config: Any = None, resume: bool = False,
              callbacks: list | None = None) -> dict[str, Any]:
    """DPO-train `model` on the preference pairs in `data`; save the aligned model to `output`; a summary.

    `config` is a `VLMDPOConfig` (default: `load_vlm_config()`, the paper's settings); its ``output_dir``
    becomes `output`. `resume` continues from the last checkpoint in `output`.
    """
    from transformers import AutoProcessor
    from trl import DPOTrainer

    from unireward.align.vlm_config import load_vlm_config
    from unireward.align.vlm_data import load_preference_data
    from unireward.train.trainer import freeze_vision_tower, lora_config

    config = config or load_vlm_config()
    output = Path(output)
    config.output_dir = str(output)
    if resume and not _has_checkpoint(output):
        raise FileNotFoundError(f"--resume: no checkpoint-* folder in {output} to resume from")
    dataset = load_preference_data(data)
    processor = AutoProcessor.from_pretrained(str(model))
    trainer = DPOTrainer(model=str(model), args=config, train_dataset=dataset, processing_class=processor,
                         data_collator=make_collator(processor, model, config),
                         peft_config=lora_config(config) if config.use_peft else None,
                         callbacks=[json_log_callback(output / LOG_FILE), *(callbacks or [])])
    if config.freeze_vision_tower and not config.use_peft:
        freeze_vision_tower(trainer.model)
    start = time.time()
    result = trainer.train(resume_from_checkpoint=True if resume else None)
    seconds = time.time() - start
    meta = {"trainer": "unireward align vlm", "base_model": str(model), "data": str(data),
            "steps": trainer.state.global_step, "settings": _settings(config)}
    save_aligned(trainer, output, config, meta)
    return {"output": str(output), "steps": trainer.state.global_step, "train_loss": result.training_loss,
            "train_seconds": round(seconds, 1), "rows": len(dataset),
            "videos": "videos" in dataset.column_names and any(dataset["videos"])}


def make_collator(processor: Any, model: str | Path, config: Any):
    """The images + videos collator with the config's media settings and the architecture's system turn."""
    from transformers import AutoConfig

    from unireward.align.collate import PreferenceCollator
    from unireward.judges.arch import get_arch

    arch = get_arch(AutoConfig.from_pretrained(str(model)).model_type)
    return PreferenceCollator(processor=processor, max_length=config.max_length, num_frames=config.num_frames,
                              max_pixels=config.max_pixels, video_as=config.video_as,
                              system_prompt=arch.system_prompt if config.add_system_prompt else None)


def _settings(config: Any) -> dict[str, Any]:
    keys = ("beta", "loss_type", "learning_rate", "lr_scheduler_type", "warmup_steps", "num_train_epochs",
            "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps", "num_frames", "max_pixels",
            "video_as", "add_system_prompt", "freeze_vision_tower", "use_peft", "lora_r", "seed")
    return {k: getattr(config, k) for k in keys}


def _has_checkpoint(output: Path) -> bool:
    from transformers.trainer_utils import get_last_checkpoint

    return output.is_dir() and get_last_checkpoint(str(output)) is not None


def json_log_callback(path: Path):
    """A callback appending every log record (step, epoch, loss, rewards/…, learning rate) to a JSONL file."""
    from transformers import TrainerCallback

    class JsonLog(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero and logs:
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "a", encoding="utf-8") as f:
                    f.write(json.dumps({"step": state.global_step, "epoch": state.epoch, **logs}) + "\n")

    return JsonLog()


def save_aligned(trainer: Any, output: Path, config: Any, meta: dict[str, Any]) -> None:
    """Weights (LoRA merged from the saved adapter), processor and ``unireward_align.json`` in `output`.

    Call on every process: `Trainer.save_model` gathers ZeRO-3 shards. The LoRA merge reloads the base model
    on the main process and applies the saved adapter, so it works under ZeRO-3 too (it needs the base
    model's size in CPU memory).
    """
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


# ---------------------------------------------------------------------- command line
def vlm(
    data: Annotated[str, typer.Option(help="Pairs: a `unireward construct` folder, or a TRL preference dataset "
                                           "(hub id, folder, .jsonl/.parquet file).")],
    model: Annotated[str, typer.Option(help="Model to align: hub id or folder (Qwen2/2.5/3-VL, LLaVA-OneVision).")],
    output: Annotated[Path, typer.Option(help="Folder for checkpoints and the aligned model.")],
    config: Annotated[Optional[Path], typer.Option(help="YAML/JSON file of VLMDPOConfig fields.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint in --output.")] = False,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a field: --set max_steps=100.")] = None,
) -> None:
    """DPO of a VLM on preference pairs (TRL, images and videos); the output loads as construct's vlm: generator."""
    from unireward.align.vlm_config import load_vlm_config
    from unireward.train.cli import parse_overrides

    cfg = load_vlm_config(config, parse_overrides(set_ or []), output_dir=str(output))
    summary = align_vlm(data, model, output, cfg, resume=resume)
    typer.echo(json.dumps(summary, indent=2, default=str))
