"""`train_judge`: supervised fine-tuning of a VLM judge on exported conversations, with TRL's `SFTTrainer`.

    from unireward.train import JudgeSFTConfig, load_config, train_judge
    train_judge("sft/", "Qwen/Qwen2.5-VL-7B-Instruct", "runs/judge", load_config("my.yaml"))

Design choices a user will notice:
- The backbone is any model the `hf` judge backend loads (Qwen2-VL, Qwen2.5-VL, Qwen3-VL, LLaVA-OneVision),
  given as a hub id or a folder; TRL loads it (float32 weights, bf16 autocast where available) so DeepSpeed
  ZeRO-3 can partition it while loading. Several images per row (video = its 8 exported frames) go through
  the backbone's own processor.
- Loss on the answer only (prompt-completion rows, ``completion_only_loss``). The prompt is the judge's
  inference prompt token for token: same chat template, same text, media first (tests/train check it).
- Sampling is balanced per task by default (`TaskBalancedSampler`); ``group_by_task`` batches one task at a
  time. ``micro_batches`` > 1 runs each device batch as that many length-sorted micro-batches (the same loss
  and gradient, less padding; Qwen-VL layouts; `unireward.train.micro_batches`).
- The output folder is a judge: ``unireward.load_judge(OUT)`` works on it (weights, processor with the
  training pixel budget, and ``unireward.json`` naming the prompt family). Checkpoints
  (``OUT/checkpoint-N``) hold the same files, so any of them is a judge too; ``resume=True`` continues from
  the last one (optimizer, scheduler, step count and data order restored).
- With LoRA, the saved model is merged (no peft needed to load it) and the adapter is kept in
  ``OUT/adapter/``; ``merge_lora=False`` saves the adapter alone.
- Judge evaluation (``eval_records``): the real judge reads the model being trained every
  ``eval_judge_steps`` steps and at the end; metrics go to the trainer's logs and to
  ``OUT/judge_eval.jsonl``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback
from trl import SFTTrainer

from unireward.train.config import JudgeSFTConfig, load_config
from unireward.train.data import TaskBalancedSampler, export_family, load_sft_dataset
from unireward.train.evaluate import evaluate_judge, flat_metrics, live_judge, select_records
from unireward.train.micro_batches import length_sorted_chunks


JUDGE_FILE = "unireward.json"
# Parameter-name markers of the vision encoders (the projector, "merger"/"multi_modal_projector", is kept
# trainable when the tower is frozen).
VISION_MARKERS = ("visual.", "vision_tower.", "vision_model.")
PROJECTOR_MARKERS = ("merger", "multi_modal_projector")


class CheckpointResumeMixin:
    """A full-model resume that renames checkpoint keys as ``from_pretrained`` does.

    transformers 5 saves Qwen-VL and LLaVA weights under their original key names, and `Trainer` reloads
    them without renaming, so a resumed full fine-tune would silently restart from the base weights. The
    checkpoint is read through ``from_pretrained`` instead (DeepSpeed, FSDP and PEFT keep their own paths).
    """

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: Any = None) -> None:
        from peft import PeftModel

        target = model if model is not None else self.model
        if self.is_deepspeed_enabled or self.is_fsdp_enabled or isinstance(target, PeftModel):
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        saved = type(target).from_pretrained(resume_from_checkpoint, dtype=target.dtype)
        target.load_state_dict(saved.state_dict(), strict=True)


class JudgeSFTTrainer(CheckpointResumeMixin, SFTTrainer):
    """`SFTTrainer` drawing its rows with a per-task balanced sampler."""

    def __init__(self, *args: Any, task_groups: list[str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._task_groups = task_groups

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The batch's loss as length-sorted micro-batches (``micro_batches``): same loss and gradient, less
        padding. Evaluation, ``return_outputs`` and layouts other than Qwen-VL's take the padded batch."""
        k = self.args.micro_batches if model.training and not return_outputs else 1
        image_token = getattr(self.model.config, "image_token_id", None)
        parts = length_sorted_chunks(inputs, k, image_token) if k > 1 else [inputs]
        if len(parts) == 1:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        total = None
        for part in parts:
            n = part.pop("num_items_in_batch")
            loss = super().compute_loss(model, part, num_items_in_batch=num_items_in_batch or n)
            total = loss if total is None else total + loss
        return total

    def _get_train_sampler(self, train_dataset=None):
        args: JudgeSFTConfig = self.args
        if not self._task_groups or not (args.balance_tasks or args.group_by_task):
            return super()._get_train_sampler(train_dataset)
        group = args.per_device_train_batch_size * max(1, args.world_size) if args.group_by_task else 1
        return TaskBalancedSampler(self._task_groups, balance=args.balance_tasks, group_size=group,
                                   seed=args.data_seed if args.data_seed is not None else args.seed)


class JudgeEvalCallback(TrainerCallback):
    """Runs the real judge on held-out unified records during training and logs its accuracy.

    Every process runs the evaluation on the same records (DeepSpeed ZeRO-3 needs every rank in each forward
    pass); the main process logs: ``judge/pair_acc/<task>`` (pairwise accuracy, ties included),
    ``judge/pair_diff/<task>`` (non-tie pairs), ``judge/spearman/<task>`` and their means over tasks.
    """

    def __init__(self, trainer: SFTTrainer, family: str):
        args: JudgeSFTConfig = trainer.args
        self.trainer, self.family = trainer, family
        self.records_path = Path(args.eval_records)
        self.records = select_records(self.records_path, args.eval_judge_limit)
        self.every, self.mode = args.eval_judge_steps, args.eval_judge_mode
        self.batch_size = args.eval_judge_batch_size
        self.log_path = Path(args.output_dir) / "judge_eval.jsonl"
        self.last: dict[str, Any] | None = None
        self._last_step = -1

    def evaluate(self, step: int) -> dict[str, Any]:
        model = self.trainer.accelerator.unwrap_model(self.trainer.model)
        was_training = model.training
        model.eval()
        start = time.time()
        try:
            judge = live_judge(model, self.trainer.processing_class, self.family, mode=self.mode,
                               batch_size=self.batch_size)
            result = evaluate_judge(judge, self.records, self.records_path.parent)
        finally:
            model.train(was_training)
        result.update(step=step, seconds=round(time.time() - start, 2), n_records=len(self.records))
        self.last, self._last_step = result, step
        if self.trainer.is_world_process_zero():
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(result) + "\n")
            # Trainer.log (not SFTTrainer.log, which would also flush the running training averages)
            from transformers import Trainer

            Trainer.log(self.trainer, flat_metrics(result))
        return result

    def on_step_end(self, args, state, control, **kwargs):
        if self.every and state.global_step % self.every == 0:
            self.evaluate(state.global_step)

    def on_train_end(self, args, state, control, **kwargs):
        if self._last_step != state.global_step:
            self.evaluate(state.global_step)


class _JudgeFileCallback(TrainerCallback):
    """Writes ``unireward.json`` into every checkpoint, so each checkpoint loads as a judge."""

    def __init__(self, meta: dict[str, Any]):
        self.meta = meta

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if ckpt.is_dir():
                write_judge_file(ckpt, {**self.meta, "step": state.global_step})


def write_judge_file(folder: Path, meta: dict[str, Any]) -> None:
    (Path(folder) / JUDGE_FILE).write_text(json.dumps(meta, indent=2) + "\n")


def _is_vision_param(name: str) -> bool:
    return any(m in name for m in VISION_MARKERS) and not any(m in name for m in PROJECTOR_MARKERS)


def freeze_vision_tower(model: Any) -> int:
    """Stop gradients into the vision encoder (not the projector); returns the number of frozen tensors."""
    n = 0
    for name, p in model.named_parameters():
        if _is_vision_param(name):
            p.requires_grad_(False)
            n += 1
    if n == 0:
        raise ValueError(f"freeze_vision_tower: no vision-encoder parameters found in {type(model).__name__}")
    return n


def lora_config(config: JudgeSFTConfig):
    """The peft `LoraConfig` the options ask for (vision encoder excluded when it is frozen)."""
    from peft import LoraConfig

    exclude = r".*(visual|vision_tower|vision_model)\.(?!.*merger).*" if config.freeze_vision_tower else None
    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=config.lora_target_modules, exclude_modules=exclude, task_type="CAUSAL_LM")


def load_processor(model: str | Path, config: JudgeSFTConfig):
    """The backbone's processor, with the configured pixel budget (saved with the judge, used at inference)."""
    from transformers import AutoProcessor

    kwargs = {k: v for k, v in (("min_pixels", config.min_pixels), ("max_pixels", config.max_pixels)) if v}
    processor = AutoProcessor.from_pretrained(str(model))
    for sub in ("image_processor", "video_processor"):
        proc = getattr(processor, sub, None)
        if proc is None or not kwargs:
            continue
        for key, value in kwargs.items():
            setattr(proc, key, value)
        if isinstance(getattr(proc, "size", None), dict) and "longest_edge" in proc.size:
            proc.size = {"shortest_edge": kwargs.get("min_pixels", proc.size["shortest_edge"]),
                         "longest_edge": kwargs.get("max_pixels", proc.size["longest_edge"])}
    return processor


def _default_family(model: str | Path) -> str:
    from transformers import AutoConfig

    from unireward.judges.arch import get_arch

    return get_arch(AutoConfig.from_pretrained(str(model)).model_type).default_family


def train_judge(data: str | Path, model: str | Path, output: str | Path, config: JudgeSFTConfig | None = None,
                resume: bool = False, callbacks: list | None = None) -> dict[str, Any]:
    """Fine-tune `model` on the ``trl`` export in `data` and save the judge to `output`; returns a summary.

    `config` defaults to `load_config()` (upstream hyper-parameters); its ``output_dir`` is set to `output`.
    `resume` continues from the last checkpoint in `output`.
    """
    config = config or load_config()
    output = Path(output)
    config.output_dir = str(output)
    family = config.family or export_family(data) or _default_family(model)
    processor = load_processor(model, config)
    dataset = load_sft_dataset(data)
    if config.tasks:
        dataset = dataset.filter(lambda t: t in config.tasks, input_columns=["task"])
        if not len(dataset):
            raise ValueError(f"{data}: no training rows for tasks {config.tasks}")
    tasks = dataset["task"]
    meta = {"family": family, "base_model": str(model), "data": str(data), "trainer": "unireward train judge"}
    trainer = JudgeSFTTrainer(model=str(model), args=config, train_dataset=dataset.remove_columns(["task", "id"]),
                              processing_class=processor, peft_config=lora_config(config) if config.use_peft else None,
                              task_groups=tasks, callbacks=[_JudgeFileCallback(meta), *(callbacks or [])])
    if config.freeze_vision_tower and not config.use_peft:
        freeze_vision_tower(trainer.model)
    evaluator = None
    if config.eval_records:
        evaluator = JudgeEvalCallback(trainer, family)
        trainer.add_callback(evaluator)
    if resume and not _has_checkpoint(output):
        raise FileNotFoundError(f"--resume: no checkpoint-* folder in {output} to resume from")
    start = time.time()
    result = trainer.train(resume_from_checkpoint=True if resume else None)
    seconds = time.time() - start
    save_judge(trainer, output, config, {**meta, "step": trainer.state.global_step})
    return {"output": str(output), "family": family, "steps": trainer.state.global_step,
            "train_loss": result.training_loss, "train_seconds": round(seconds, 1),
            "rows": len(dataset), "rows_per_task": {t: tasks.count(t) for t in sorted(set(tasks))},
            "judge_eval": evaluator.last if evaluator else None}


def _has_checkpoint(output: Path) -> bool:
    from transformers.trainer_utils import get_last_checkpoint

    return output.is_dir() and get_last_checkpoint(str(output)) is not None


def save_judge(trainer: SFTTrainer, output: Path, config: JudgeSFTConfig, meta: dict[str, Any]) -> None:
    """Weights (merged when LoRA), processor and ``unireward.json`` in `output`. Call on every process:
    `Trainer.save_model` gathers ZeRO-3 shards; the rest happens on the main process."""
    if config.use_peft and config.merge_lora:
        trainer.save_model(str(output / "adapter"))
        if trainer.is_world_process_zero():  # merging needs whole weights: not for ZeRO-3 (set merge_lora false)
            trainer.accelerator.unwrap_model(trainer.model).merge_and_unload().save_pretrained(output)
    else:
        trainer.save_model(str(output))
    if trainer.is_world_process_zero():
        trainer.processing_class.save_pretrained(output)
        write_judge_file(output, meta)
