"""`align_vlm`: DPO of a vision-language model on preference pairs, images and videos, with TRL's `DPOTrainer`.

    from unireward.align.vlm import align_vlm
    from unireward.align.vlm_config import load_vlm_config
    align_vlm("pairs/", "llava-hf/llava-onevision-qwen2-7b-ov-hf", "runs/ov-dpo", load_vlm_config())

Design choices a user will notice:
- Data: a `unireward construct` output folder or any TRL preference dataset (hub id, folder, file), or several
  of them trained as one set (``--data`` repeated: round k+1 of iterative DPO on every round's pairs); every row
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
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Optional

import typer


def align_vlm(data: str | Path | Sequence[str | Path], model: str | Path, output: str | Path, config: Any = None,
              resume: bool = False, callbacks: list | None = None) -> dict[str, Any]:
    """DPO-train `model` on the preference pairs in `data` (one source or several, trained as one set); save the
    aligned model to `output`; a summary.

    `config` is a `VLMDPOConfig` (default: `load_vlm_config()`, the paper's settings); its ``output_dir``
    becomes `output`. `resume` continues from the last checkpoint in `output`. `callbacks` are
    `transformers.TrainerCallback`s added to the trainer.
    """
    from unireward.align.vlm_trainer import has_checkpoint, save_aligned, settings, vlm_trainer

    output = Path(output)
    if resume and not has_checkpoint(output):
        raise FileNotFoundError(f"--resume: no checkpoint-* folder in {output} to resume from")
    trainer = vlm_trainer(data, model, output, config, callbacks)
    start = time.time()
    result = trainer.train(resume_from_checkpoint=True if resume else None)
    seconds = time.time() - start
    sources = str(data) if isinstance(data, (str, Path)) else [str(d) for d in data]
    meta = {"trainer": "unireward align vlm", "base_model": str(model), "data": sources,
            "steps": trainer.state.global_step, "settings": settings(trainer.args)}
    save_aligned(trainer, output, meta)
    dataset = trainer.train_dataset
    return {"output": str(output), "steps": trainer.state.global_step, "train_loss": result.training_loss,
            "train_seconds": round(seconds, 1), "rows": len(dataset),
            "videos": "videos" in dataset.column_names and any(dataset["videos"])}


# ---------------------------------------------------------------------- command line
def vlm(
    data: Annotated[list[str], typer.Option(help="Pairs: a `unireward construct` folder, or a TRL preference "
                                                 "dataset (hub id, folder, .jsonl/.parquet file); repeat to train "
                                                 "on several as one set.")],
    model: Annotated[str, typer.Option(help="Model to align: hub id or folder (Qwen2/2.5/3-VL, LLaVA-OneVision).")],
    output: Annotated[Path, typer.Option(help="Folder for checkpoints and the aligned model.")],
    config: Annotated[Optional[Path], typer.Option(help="YAML/JSON file of VLMDPOConfig fields.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint in --output.")] = False,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a field: --set max_steps=100.")] = None,
) -> None:
    """DPO of a VLM on preference pairs (TRL, images and videos); the output loads as construct's vlm: generator."""
    from unireward.align.vlm_config import VLMDPOConfig, load_vlm_config
    from unireward.train.cli import parse_overrides

    cfg = load_vlm_config(config, parse_overrides(set_ or [], VLMDPOConfig), output_dir=str(output))
    summary = align_vlm(data[0] if len(data) == 1 else data, model, output, cfg, resume=resume)
    typer.echo(json.dumps(summary, indent=2, default=str))
