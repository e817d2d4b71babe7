"""`train_diffusion_dpo` and `unireward align diffusion`: Diffusion-DPO of image and video diffusion models.

    from unireward.align.diffusion import DiffusionDPOConfig, train_diffusion_dpo
    train_diffusion_dpo("pairs/", "stabilityai/sdxl-turbo", "runs/sdxl-turbo-dpo", DiffusionDPOConfig())

The loss is in `unireward.align.losses`, the model families (SD 1.x/2.x, SDXL/SDXL-Turbo, SD3, FLUX,
ModelScope T2V, Wan) in `unireward.align.diffusion_models`, the data in `unireward.align.diffusion_data`.

Defaults are the paper's SDXL-Turbo run (upstream.md §4): β = 5000, lr 1e-8 scaled by batch × accumulation ×
processes, constant schedule with 5 warmup steps, per-device batch 32 pairs, 16 accumulation steps, 3
epochs, Adafactor for SDXL (AdamW otherwise), full fine-tuning; a model whose name contains "turbo" gets
the turbo timesteps {249, 499, 749, 999} and zero-terminal-SNR betas. docs/align.md gives the T2V-Turbo and
FLUX/Wan LoRA settings.

Design choices a user will notice:
- One plain loop on `accelerate` (DDP over processes, mixed precision, gradient accumulation), not
  `transformers.Trainer`: a step draws the same timestep and noise for the chosen and rejected sample of a
  pair, and runs the policy and the reference on the concatenated [chosen, rejected] batch.
- Reference: with LoRA, the same denoiser with its adapters disabled (no second copy in memory); with full
  fine-tuning, a frozen copy made before training (``reference="copy"``; also selectable with LoRA).
- Randomness (data order, timesteps, noise, latent samples) is a function of the seed and the step, not of
  a running generator, so a resumed run draws exactly what the uninterrupted run would have.
- Checkpoints ``OUT/checkpoint-N`` hold the trainable weights, optimizer and scheduler states and the step;
  ``resume=True`` continues from the last one. Only full batches are used (``drop_last``).
- The output folder is a complete diffusers pipeline (LoRA fused into the denoiser, other components as in
  the base checkpoint): ``DiffusionPipeline.from_pretrained(OUT)`` and `unireward construct`'s
  ``diffusers:OUT`` / ``t2v:OUT`` generators load it. With LoRA the adapter is also in ``OUT/lora``
  (``pipe.load_lora_weights(OUT / "lora")`` on the base). ``save_pipeline=False`` saves the adapter or the
  denoiser alone (for very large checkpoints).
- Logs: one JSON line per optimizer step in ``OUT/log.jsonl`` (loss, implicit accuracy, model and reference
  errors, learning rate, seconds) and a progress line on stderr every ``logging_steps``.
"""

from __future__ import annotations

import copy
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any, Optional

import typer


TURBO_TIMESTEPS = (249, 499, 749, 999)
SUMMARY_FILE, LOG_FILE, STATE_FILE = "unireward_align.json", "log.jsonl", "state.json"


@dataclass
class DiffusionDPOConfig:
    """Diffusion-DPO settings; defaults are the paper's SDXL-Turbo run (see the module docstring)."""

    # ---- the objective ----
    beta: float = 5000.0  # β of −log σ(−β/2·Δ); diffusers' beta_dpo is β/2
    sft_weight: float = 0.0  # + this × the chosen samples' denoising loss (RPO); 0: the paper's plain loss
    prediction_type: str | None = None  # None: the scheduler's (ε / v), "flow" for SD3/FLUX/Wan
    turbo: bool | None = None  # None: the model name contains "turbo"
    turbo_timesteps: tuple[int, ...] = TURBO_TIMESTEPS
    zero_terminal_snr: bool | None = None  # None: on for turbo models
    timestep_sampling: str = "logit_normal"  # flow models: logit_normal | uniform
    logit_mean: float = 0.0
    logit_std: float = 1.0
    flow_shift: float | None = None  # None: the scheduler's shift
    flux_guidance: float = 3.5  # guidance embedding of guidance-distilled FLUX
    timestep_range: tuple[float, float] = (0.0, 1.0)  # draw timesteps from this share of the noise range (1: pure
    # noise); (0.5, 1.0) trains only where layout is decided. Not for turbo timesteps. The paper: all of it
    reference: str = "auto"  # auto | base (LoRA disabled) | copy (frozen copy)
    disable_dropout: bool = True  # as TRL's DPOConfig: dropout in the trained denoiser (UNet3D's temporal convs
    # have p=0.1) would make policy and reference differ at equal weights, noise that β=5000 amplifies

    # ---- optimisation ----
    learning_rate: float = 1e-8
    scale_lr: bool = True  # lr × per-device batch × accumulation × processes (upstream --scale_lr)
    per_device_batch_size: int = 32  # pairs per device and micro-step
    gradient_accumulation_steps: int = 16
    num_train_epochs: float = 3.0
    max_steps: int | None = None  # optimizer steps; overrides epochs (the upstream launcher: 20)
    lr_scheduler: str = "constant_with_warmup"  # any diffusers schedule name, or onecycle (T2V-Turbo)
    warmup_steps: int = 5
    onecycle_pct_start: float = 0.2
    onecycle_final_div: float = 10.0
    optimizer: str = "auto"  # auto (adafactor for SDXL full fine-tuning, else adamw) | adamw | adafactor
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    weight_decay: float = 1e-2
    max_grad_norm: float = 1.0
    seed: int = 0

    # ---- what is trained ----
    use_lora: bool = False
    lora_rank: int = 8
    lora_alpha: int | None = None  # None: = rank
    lora_target_modules: list[str] = field(default_factory=lambda: ["to_k", "to_q", "to_v", "to_out.0"])
    trainable: str = "all"  # all | linear (only nn.Linear weights, as upstream's T2V-Turbo run); full fine-tuning
    gradient_checkpointing: bool = True
    mixed_precision: str = "auto"  # auto (bf16 on a GPU that has it, else no) | no | fp16 | bf16

    # ---- data ----
    resolution: int | None = None  # square side; None: the checkpoint's native size
    height: int | None = None  # with width: a non-square training size (e.g. 320×512 video)
    width: int | None = None
    num_frames: int | None = None  # videos; None: the model folder's recorded count, else 16 (UNet3D) / 17 (Wan)
    split: str = "train"  # hub datasets
    skip_bad_rows: bool = False
    verify_media: bool = True
    cache_latents: bool = False
    cache_dir: str | None = None  # None: OUT/latent_cache

    # ---- output ----
    checkpointing_steps: int = 500
    checkpoints_total_limit: int | None = None
    logging_steps: int = 1
    save_pipeline: bool = True

    def __post_init__(self):
        choices = {"reference": ("auto", "base", "copy"), "optimizer": ("auto", "adamw", "adafactor"),
                   "trainable": ("all", "linear"), "mixed_precision": ("auto", "no", "fp16", "bf16"),
                   "timestep_sampling": ("logit_normal", "uniform")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        if self.prediction_type not in (None, "epsilon", "v_prediction", "sample", "flow"):
            raise ValueError(f"prediction_type must be epsilon, v_prediction, sample or flow; "
                             f"got {self.prediction_type!r}")
        if self.reference == "base" and not self.use_lora:
            raise ValueError("reference='base' (the LoRA-disabled denoiser) needs use_lora=True")
        if (self.height is None) != (self.width is None):
            raise ValueError("set both height and width, or neither")
        self.turbo_timesteps = tuple(int(t) for t in self.turbo_timesteps)
        self.timestep_range = tuple(float(f) for f in self.timestep_range)
        lo, hi = self.timestep_range
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(f"timestep_range must be two shares 0 <= lo < hi <= 1 of the noise range; "
                             f"got {self.timestep_range}")


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> DiffusionDPOConfig:
    """A config from a YAML/JSON file of field values, then `overrides`; unknown keys are an error."""
    values: dict[str, Any] = {}
    if path is not None:
        import yaml

        text = Path(path).read_text()
        values = json.loads(text) if str(path).endswith(".json") else (yaml.safe_load(text) or {})
    values.update(overrides or {})
    known = {f.name: f for f in fields(DiffusionDPOConfig)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown Diffusion-DPO setting(s): {', '.join(unknown)}; known: {', '.join(known)}")
    for key, value in list(values.items()):
        kind = str(known[key].type)
        if isinstance(value, str) and ("float" in kind or "int" in kind) and "str" not in kind:
            values[key] = float(value) if "float" in kind else int(value)
    return DiffusionDPOConfig(**values)


# ---------------------------------------------------------------------- set-up
def _mixed_precision(config: DiffusionDPOConfig) -> str:
    import torch

    if config.mixed_precision != "auto":
        return config.mixed_precision
    return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"


def _load_pipeline(model: str, dtype):
    from unireward.construct.generators import load_pipeline

    pipe = load_pipeline(model, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _is_turbo(model: str, config: DiffusionDPOConfig) -> bool:
    return config.turbo if config.turbo is not None else "turbo" in str(model).lower()


def _noise_settings(model: str, config: DiffusionDPOConfig):
    from unireward.align.diffusion_models import NoiseSettings

    return NoiseSettings(prediction_type=config.prediction_type, turbo=_is_turbo(model, config),
                         turbo_timesteps=config.turbo_timesteps, zero_terminal_snr=config.zero_terminal_snr,
                         timestep_sampling=config.timestep_sampling, logit_mean=config.logit_mean,
                         logit_std=config.logit_std, flow_shift=config.flow_shift, flux_guidance=config.flux_guidance,
                         timestep_range=config.timestep_range)


def _prepare_frozen(family, device, weight_dtype) -> None:
    """Encoders to the device in the compute dtype (VAE in float32: SDXL's VAE overflows in fp16)."""
    import torch

    for name, module in family.pipe.components.items():
        if isinstance(module, torch.nn.Module) and name != family.attr:
            module.requires_grad_(False).eval()
            module.to(device, dtype=torch.float32 if name == "vae" else weight_dtype)


def _set_trainable(family, config: DiffusionDPOConfig) -> None:
    import torch

    den = family.denoiser
    den.requires_grad_(False)
    if config.use_lora:
        from peft import LoraConfig

        den.add_adapter(LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha or config.lora_rank,
                                   init_lora_weights="gaussian", target_modules=list(config.lora_target_modules)))
        for p in den.parameters():  # LoRA weights train in float32 whatever the base dtype
            if p.requires_grad:
                p.data = p.data.float()
    elif config.trainable == "linear":
        for m in den.modules():
            if isinstance(m, torch.nn.Linear):
                m.requires_grad_(True)
    else:
        den.requires_grad_(True)
    if config.gradient_checkpointing:
        den.enable_gradient_checkpointing()
    den.train()
    if config.disable_dropout:
        for m in den.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0


def _optimizer(params, config: DiffusionDPOConfig, family, lr: float):
    import torch

    kind = config.optimizer
    if kind == "auto":
        kind = "adafactor" if family.name == "sdxl" and not config.use_lora else "adamw"
    if kind == "adafactor":
        from transformers.optimization import Adafactor

        return Adafactor(params, lr=lr, weight_decay=config.weight_decay, clip_threshold=1.0, scale_parameter=False,
                         relative_step=False, warmup_init=False)
    return torch.optim.AdamW(params, lr=lr, betas=(config.adam_beta1, config.adam_beta2), eps=config.adam_epsilon,
                             weight_decay=config.weight_decay)


def _lr_scheduler(optimizer, config: DiffusionDPOConfig, total_steps: int, lr: float):
    if config.lr_scheduler == "onecycle":
        import torch

        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=max(total_steps, 2),
                                                   pct_start=config.onecycle_pct_start, anneal_strategy="cos",
                                                   final_div_factor=config.onecycle_final_div,
                                                   cycle_momentum=False)
    from diffusers.optimization import get_scheduler

    return get_scheduler(config.lr_scheduler, optimizer, num_warmup_steps=config.warmup_steps,
                         num_training_steps=total_steps)


def _train_size(family, source, config: DiffusionDPOConfig) -> tuple[int, int]:
    from unireward.align.diffusion_data import media_size
    from unireward.align.diffusion_models import round_down

    m = family.size_multiple()
    if config.height is not None:
        h, w = config.height, config.width
    elif config.resolution is not None:
        h = w = config.resolution
    elif family.default_size() is not None and not family.video:
        h = w = family.default_size()
    else:  # video models without a native size: the first video's own frame size
        h, w = media_size(source.rows[0].chosen, source.kind, source.rows[0].where)
        h, w = round_down(h, m), round_down(w, m)
    if h % m or w % m:
        raise ValueError(f"training size {h}x{w} must be a multiple of {m} for {family.name}")
    return int(h), int(w)  # type: ignore[arg-type]


def _num_frames(family, config: DiffusionDPOConfig, model: str) -> int:
    """num_frames, else the count the model folder records it samples (a small generator's), else 16 / 17."""
    from unireward.construct.generators import recorded_inference

    n = config.num_frames or recorded_inference(model).get("num_frames") or (17 if family.name == "wan" else 16)
    family.check_frames(n)
    return n


# ---------------------------------------------------------------------- the run
class DiffusionDPORun:
    """Everything a training run holds; `train_diffusion_dpo` drives it."""

    def __init__(self, data: str | Path, model: str | Path, output: Path, config: DiffusionDPOConfig):
        import torch
        from accelerate import Accelerator

        from unireward.align.diffusion_data import LatentCache, load_pair_source
        from unireward.align.diffusion_models import Family

        self.config, self.output, self.model_name = config, output, str(model)
        self.accelerator = Accelerator(mixed_precision=_mixed_precision(config))
        self.device = self.accelerator.device
        self.source = load_pair_source(data, config.split, config.skip_bad_rows, config.verify_media)
        weight_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(self.accelerator.mixed_precision,
                                                                           torch.float32)
        pipe = _load_pipeline(self.model_name, weight_dtype if config.use_lora else None)
        from unireward.construct.generators import recorded_text_tokens

        self.family = Family(pipe, _noise_settings(self.model_name, config), self.device,
                             recorded_text_tokens(self.model_name))
        if self.family.video != (self.source.kind == "video"):
            raise ValueError(f"{self.model_name} is a {'video' if self.family.video else 'image'} model but "
                             f"{data} holds {self.source.kind} pairs")
        _prepare_frozen(self.family, self.device, weight_dtype)
        self.family.denoiser.to(self.device, dtype=weight_dtype if config.use_lora else torch.float32)
        self.size = _train_size(self.family, self.source, config)
        self.frames = _num_frames(self.family, config, self.model_name) if self.family.video else 0
        self.reference = None
        if config.reference == "copy" or (config.reference == "auto" and not config.use_lora):
            self.reference = copy.deepcopy(self.family.denoiser).requires_grad_(False).eval()
        _set_trainable(self.family, config)
        self._setup_optimisation()
        self.cache = None
        if config.cache_latents:
            sig = f"{self.model_name}|{type(pipe.vae).__name__}|{self.size}|{self.frames}"
            self.cache = LatentCache(Path(config.cache_dir or output / "latent_cache"), sig)

    # ---- optimisation
    def _setup_optimisation(self) -> None:
        c, acc = self.config, self.accelerator
        world = acc.num_processes
        self.global_batch = c.per_device_batch_size * world
        self.batches_per_epoch = len(self.source) // self.global_batch
        if self.batches_per_epoch == 0:
            raise ValueError(f"{len(self.source)} usable pairs is fewer than one batch ({c.per_device_batch_size} "
                             f"per device × {world} processes); lower per_device_batch_size")
        steps_per_epoch = max(1, self.batches_per_epoch // c.gradient_accumulation_steps)
        self.total_steps = c.max_steps or math.ceil(c.num_train_epochs * steps_per_epoch)
        self.lr = c.learning_rate * (c.per_device_batch_size * c.gradient_accumulation_steps * world
                                     if c.scale_lr else 1)
        params = [p for p in self.family.denoiser.parameters() if p.requires_grad]
        self.n_trainable = sum(p.numel() for p in params)
        optimizer = _optimizer(params, c, self.family, self.lr)
        self.lr_scheduler = _lr_scheduler(optimizer, c, self.total_steps, self.lr)
        self.model, self.optimizer = acc.prepare(self.family.denoiser, optimizer)

    # ---- randomness: a function of (seed, step, micro-step, process)
    def _gen(self, *parts: int):
        import torch

        key = (self.config.seed, *parts)
        return torch.Generator().manual_seed(hash(key) & 0x7FFFFFFFFFFFFFFF)

    def _indices(self, micro: int) -> list[int]:
        import torch

        epoch, j = divmod(micro, self.batches_per_epoch)
        perm = torch.randperm(len(self.source), generator=self._gen(-1, epoch)).tolist()
        start = j * self.global_batch + self.accelerator.process_index * self.config.per_device_batch_size
        return perm[start:start + self.config.per_device_batch_size]

    # ---- media
    def _params(self, media: Any, where: str):
        from unireward.align.diffusion_data import media_pixels

        if self.cache is not None:
            params = self.cache.get(media)
            if params is not None:
                return params.to(self.device)
        pixels = media_pixels(media, where, self.source.kind, self.size, self.frames).unsqueeze(0)
        params = self.family.encode_media(pixels)[0]
        if self.cache is not None:
            self.cache.put(media, params)
        return params

    def fill_cache(self) -> int:
        """Encode every image/video of this process's share once (all processes share the folder)."""
        if self.cache is None:
            return 0
        acc, n = self.accelerator, 0
        for i, row in enumerate(self.source.rows):
            if i % acc.num_processes != acc.process_index:
                continue
            for name, media in (("chosen", row.chosen), ("rejected", row.rejected)):
                if not self.cache.path(media).is_file():
                    self._params(media, f"{row.where}: {name}")
                    n += 1
        acc.wait_for_everyone()
        return n

    def _latents(self, rows, gen):
        import torch

        params = [self._params(r.chosen, f"{r.where}: chosen") for r in rows]
        params += [self._params(r.rejected, f"{r.where}: rejected") for r in rows]
        return self.family.sample_latents(torch.stack(params), gen)

    # ---- one micro-step
    def loss(self, micro: int):
        import torch

        from unireward.align.losses import diffusion_dpo_loss

        rows = [self.source.rows[i] for i in self._indices(micro)]
        gen = self._gen(micro, self.accelerator.process_index)
        latents = self._latents(rows, gen)
        b = len(rows)
        noise = torch.randn(latents[:b].shape, generator=gen).to(latents).repeat(2, *([1] * (latents.ndim - 1)))
        t = self.family.sample_timesteps(b, gen).repeat(2)
        noisy, target = self.family.noisy_and_target(latents, noise, t.to(self.device))
        cond = self.family.encode_text([r.caption for r in rows] * 2, self.size)
        with self.accelerator.autocast():
            pred = self.family.predict(self.model, noisy, t, cond)
            with torch.no_grad():
                ref = self._reference_pred(noisy, t, cond)
        return diffusion_dpo_loss(pred.float(), ref.float(), target, self.config.beta, self.config.sft_weight)

    def _reference_pred(self, noisy, t, cond):
        if self.reference is not None:
            return self.family.predict(self.reference, noisy, t, cond)
        model = self.accelerator.unwrap_model(self.model)
        model.disable_adapters()
        try:
            return self.family.predict(model, noisy, t, cond)
        finally:
            model.enable_adapters()

    def step(self, step: int) -> dict[str, float]:
        """One optimizer step (all its accumulation micro-steps); returns the logged values."""
        c, acc = self.config, self.accelerator
        logs: dict[str, float] = {}
        for k in range(c.gradient_accumulation_steps):
            micro = step * c.gradient_accumulation_steps + k
            sync = k == c.gradient_accumulation_steps - 1
            ctx = acc.no_sync(self.model) if not sync and acc.num_processes > 1 else _nullcontext()
            with ctx:
                out = self.loss(micro)
                acc.backward(out.loss / c.gradient_accumulation_steps)
            for key, value in out.logs().items():
                logs[key] = logs.get(key, 0.0) + value / c.gradient_accumulation_steps
        if c.max_grad_norm:
            params = [p for p in self.model.parameters() if p.requires_grad]
            logs["grad_norm"] = float(acc.clip_grad_norm_(params, c.max_grad_norm))
        self.optimizer.step()
        self.lr_scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        logs["lr"] = self.lr_scheduler.get_last_lr()[0]
        return logs

    # ---- checkpoints
    def trainable_state(self) -> dict[str, Any]:
        model = self.accelerator.unwrap_model(self.model)
        return {n: p.detach().float().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}

    def save_checkpoint(self, step: int) -> Path:
        import torch
        from safetensors.torch import save_file

        folder = self.output / f"checkpoint-{step}"
        if self.accelerator.is_main_process:
            tmp = self.output / f".checkpoint-{step}.tmp"
            tmp.mkdir(parents=True, exist_ok=True)
            save_file(self.trainable_state(), tmp / "trainable.safetensors")
            torch.save(self.optimizer.state_dict(), tmp / "optimizer.pt")
            torch.save(self.lr_scheduler.state_dict(), tmp / "scheduler.pt")
            (tmp / STATE_FILE).write_text(json.dumps({"step": step, "config": asdict(self.config),
                                                      "model": self.model_name}, indent=2, default=str))
            if folder.exists():
                import shutil

                shutil.rmtree(folder)
            tmp.rename(folder)
            self._prune_checkpoints()
        self.accelerator.wait_for_everyone()
        return folder

    def _prune_checkpoints(self) -> None:
        import shutil

        limit = self.config.checkpoints_total_limit
        if not limit:
            return
        for old in _checkpoints(self.output)[:-limit]:
            shutil.rmtree(old)

    def load_checkpoint(self, folder: Path) -> int:
        import torch
        from safetensors.torch import load_file

        state = load_file(str(folder / "trainable.safetensors"))
        model = self.accelerator.unwrap_model(self.model)
        params = dict(model.named_parameters())
        missing = [n for n, p in params.items() if p.requires_grad and n not in state]
        if missing or set(state) - set(params):
            raise ValueError(f"{folder}: its trainable weights do not match this run's (different LoRA or "
                             f"trainable settings?); e.g. {(missing or sorted(set(state) - set(params)))[:3]}")
        with torch.no_grad():
            for name, value in state.items():
                params[name].copy_(value.to(params[name].dtype))
        self.optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=False))
        self.lr_scheduler.load_state_dict(torch.load(folder / "scheduler.pt", weights_only=False))
        return int(json.loads((folder / STATE_FILE).read_text())["step"])


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _checkpoints(output: Path) -> list[Path]:
    found = [p for p in output.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))


# ---------------------------------------------------------------------- saving the aligned model
def save_aligned(run: DiffusionDPORun, output: Path) -> None:
    """The aligned pipeline (LoRA fused) in `output`, the adapter in ``output/lora`` (main process only)."""
    if not run.accelerator.is_main_process:
        return
    model = run.accelerator.unwrap_model(run.model)
    cls = type(run.family.pipe)
    if run.config.use_lora:
        from peft.utils import get_peft_model_state_dict

        from unireward.align.diffusion_models import lora_kwarg

        layers = get_peft_model_state_dict(model)
        if run.family.attr == "unet":
            from diffusers.utils import convert_state_dict_to_diffusers

            layers = convert_state_dict_to_diffusers(layers)
        cls.save_lora_weights(str(output / "lora"), **{lora_kwarg(run.family): layers})
    if not run.config.save_pipeline:
        if not run.config.use_lora:
            model.save_pretrained(output / run.family.attr)
        return
    pipe = _load_pipeline(run.model_name, None)  # the base as stored (its dtypes), then the trained denoiser
    if run.config.use_lora:
        pipe.load_lora_weights(str(output / "lora"))
        pipe.fuse_lora()
        pipe.unload_lora_weights()
    else:
        target = getattr(pipe, run.family.attr)
        dtype = next(target.parameters()).dtype
        target.load_state_dict({k: v.to(dtype) for k, v in model.state_dict().items()})
    pipe.save_pretrained(output)


# ---------------------------------------------------------------------- the trainer
def _log(run: DiffusionDPORun, step: int, logs: dict[str, float], start: float) -> None:
    if not run.accelerator.is_main_process:
        return
    logs = {"step": step, **{k: round(v, 8) for k, v in logs.items()}, "seconds": round(time.time() - start, 2)}
    with open(run.output / LOG_FILE, "a", encoding="utf-8") as f:
        f.write(json.dumps(logs) + "\n")
    every = run.config.logging_steps
    if every and (step % every == 0 or step == run.total_steps):
        print(f"[align diffusion] step {step}/{run.total_steps} loss {logs['loss']:.4f} "
              f"acc {logs['implicit_acc']:.3f} lr {logs['lr']:.3g} ({logs['seconds']:.0f}s)", file=sys.stderr)


def train_diffusion_dpo(data: str | Path, model: str | Path, output: str | Path,
                        config: DiffusionDPOConfig | None = None, resume: bool = False) -> dict[str, Any]:
    """Diffusion-DPO of `model` (a diffusers pipeline: hub id or folder) on the pairs in `data`; the aligned
    pipeline goes to `output`. Returns a summary (also written to ``OUT/unireward_align.json``).

    `resume` continues from the last ``checkpoint-N`` in `output`.
    """
    config = config or DiffusionDPOConfig()
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    run = DiffusionDPORun(data, model, output, config)
    start_step = 0
    if resume:
        found = _checkpoints(output)
        if not found:
            raise FileNotFoundError(f"resume: no checkpoint-* folder in {output} to resume from")
        start_step = run.load_checkpoint(found[-1])
    elif (output / LOG_FILE).exists() and run.accelerator.is_main_process:
        (output / LOG_FILE).unlink()
    start = time.time()
    encoded = run.fill_cache()
    losses: list[float] = []
    for step in range(start_step + 1, run.total_steps + 1):
        logs = run.step(step - 1)
        losses.append(logs["loss"])
        _log(run, step, logs, start)
        if config.checkpointing_steps and step % config.checkpointing_steps == 0 and step < run.total_steps:
            run.save_checkpoint(step)
    run.accelerator.wait_for_everyone()
    save_aligned(run, output)
    summary = _summary(run, output, start_step, losses, encoded, time.time() - start)
    if run.accelerator.is_main_process:
        (output / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return summary


def _summary(run: DiffusionDPORun, output: Path, start_step: int, losses: list[float], encoded: int,
             seconds: float) -> dict[str, Any]:
    from unireward.construct.generators import recorded_inference

    src, fam = run.source, run.family
    return {"output": str(output), "base_model": run.model_name, "family": fam.name,
            "prediction_type": fam.prediction_type, "turbo": fam.settings.turbo, "steps": run.total_steps,
            "resumed_from": start_step or None, "losses": losses, "pairs": len(src), "ties_skipped": src.ties_skipped,
            "bad_rows": src.bad_rows, "size": list(run.size), "num_frames": run.frames or None,
            "learning_rate": run.lr, "trainable_params": run.n_trainable, "latents_encoded": encoded,
            "train_seconds": round(seconds, 1), "data": src.origin,
            "inference": ({"num_inference_steps": 4, "guidance_scale": 0.0} if fam.settings.turbo
                          else recorded_inference(run.model_name) or None),  # the base's, so it samples alike
            "config": asdict(run.config)}



# ---------------------------------------------------------------------- the command
def diffusion(
    data: Annotated[str, typer.Option(help="Pairs: a construct folder, a JSONL file, parquet, or a hub dataset id.")],
    model: Annotated[str, typer.Option(help="Base diffusers pipeline: hub id or folder.")],
    output: Annotated[Path, typer.Option(help="Folder for checkpoints, logs and the aligned pipeline.")],
    config: Annotated[Optional[Path], typer.Option(help="YAML/JSON file of DiffusionDPOConfig fields.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint in --output.")] = False,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a field: --set beta=2500.")] = None,
) -> None:
    """Diffusion-DPO (ε/v/flow) of an image or video diffusion model on preference pairs; prints a JSON summary."""
    from unireward.train.cli import parse_overrides

    cfg = load_config(config, parse_overrides(set_ or []))
    summary = train_diffusion_dpo(data, model, output, cfg, resume=resume)
    typer.echo(json.dumps({k: v for k, v in summary.items() if k != "config"}, indent=2, default=str))
