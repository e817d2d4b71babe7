"""`unireward serve MODEL`: the reward server on uvicorn (see `unireward.serve.reward_app`, docs/serve.md).

Design choices a user will notice:
- The judge options are the same flags as `unireward judge` (`unireward.judges.options`), but the mode
  defaults to ``logprob``: a reward server exists to give continuous rewards (expected scores, P(A better)).
- Binds 127.0.0.1; any other ``--host`` refuses to start without ``--api-key`` or ``UNIREWARD_API_KEY``.
- SIGTERM / Ctrl-C drains: readiness turns 503, the listener closes, in-flight requests finish (up to the
  request timeout), then the process exits.
- ``--replicas N`` runs N copies on Ray Serve (`unireward.serve.ray_deploy`), each the same app; Ray's
  proxy binds ``--host:--port`` and spreads the requests.
- Heavy imports (fastapi, uvicorn, torch) happen inside the command, so ``unireward --help`` stays fast.
"""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from unireward.judges.options import BatchSize, Device, Dtype, Family, MaxPromptTokens, NumFrames, Swap, judge_config


Host = Annotated[str, typer.Option(help="Bind address; anything but loopback needs an API key.")]
Keys = Annotated[Optional[list[str]], typer.Option("--api-key", help="Accepted key (repeatable); default "
                                                                     "$UNIREWARD_API_KEY.")]
UrlHosts = Annotated[Optional[list[str]], typer.Option("--allow-url-host", help="Host whose media URLs may be "
                                                                               "fetched (repeatable).")]
UrlNets = Annotated[Optional[list[str]], typer.Option("--allow-url-network", help="Non-public network (CIDR) an "
                                                                                 "allowed host may resolve to.")]


def serve(
    model: Annotated[str, typer.Argument(help="Preset name, hub id, local folder or openai://HOST:PORT/MODEL.")],
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    api_key: Keys = None,
    allow_url_host: UrlHosts = None,
    allow_url_network: UrlNets = None,
    mode: Annotated[str, typer.Option(help="logprob (continuous rewards, default), reason-logprob (the same "
                                           "after the judge's reasoning) or generate.")] = "logprob",
    family: Family = None,
    swap: Swap = False,
    num_frames: NumFrames = None,
    max_prompt_tokens: MaxPromptTokens = None,
    device: Device = None,
    dtype: Dtype = None,
    batch_size: BatchSize = None,
    max_batch: Annotated[int, typer.Option(min=1, help="Judgments per model call (1 = no batching).")] = 16,
    max_wait_ms: Annotated[float, typer.Option(min=0, help="Longest wait for a batch to fill.")] = 5.0,
    max_pending: Annotated[int, typer.Option(min=1, help="Judgments waiting at most; more answer 429.")] = 1024,
    media_cache: Annotated[bool, typer.Option("--media-cache/--no-media-cache",
                                              help="Decode each medium once per request (by content hash).")] = True,
    request_timeout: Annotated[float, typer.Option(help="Seconds per request, queueing included.")] = 120.0,
    max_body_mb: Annotated[float, typer.Option(help="Largest request body.")] = 20.0,
    max_image_pixels: Annotated[int, typer.Option(help="Declared pixels per image or frame.")] = 4096 * 4096,
    max_images: Annotated[int, typer.Option(help="Images per item (shared images, frames).")] = 64,
    max_frames: Annotated[int, typer.Option(help="Frames per video.")] = 64,
    max_group: Annotated[int, typer.Option(help="Candidates per group.")] = 16,
    max_items: Annotated[int, typer.Option(help="Judgments per request.")] = 256,
    served_model_name: Annotated[Optional[str], typer.Option(help="Name in answers and /v1/models.")] = None,
    failed_reward: Annotated[float, typer.Option(help="/get_reward value of a failed judgment.")] = 0.0,
    replicas: Annotated[int, typer.Option(min=0, help="Run N replicas on Ray Serve (0: one process, no Ray).")] = 0,
    gpus_per_replica: Annotated[float, typer.Option(min=0, help="GPUs per Ray replica.")] = 0.0,
    cpus_per_replica: Annotated[float, typer.Option(min=0, help="CPUs per Ray replica.")] = 1.0,
) -> None:
    """Serve a judge as a reward service: pairwise, pointwise, groups (Pref-GRPO), OpenRLHF, OpenAI chat."""
    import uvicorn

    from unireward.judges.options import load
    from unireward.serve.batcher import BatchConfig
    from unireward.serve.limits import MB, Limits
    from unireward.serve.reward_app import DrainingServer, ServeSettings, create_reward_app
    from unireward.serve.security import UrlPolicy, require_key_off_loopback

    keys = tuple(api_key or [k for k in [os.environ.get("UNIREWARD_API_KEY", "")] if k])
    require_key_off_loopback(host, keys)
    cfg = judge_config(mode=mode, family=family, swap=swap, num_frames=num_frames, batch_size=batch_size,
                       max_prompt_tokens=max_prompt_tokens, device=device, dtype=dtype)
    limits = Limits(max_body_bytes=int(max_body_mb * MB), max_image_pixels=max_image_pixels, max_images=max_images,
                    max_frames=max_frames, max_group=max_group, max_items=max_items, request_timeout=request_timeout)
    settings = ServeSettings(limits=limits, batching=BatchConfig(max_batch, max_wait_ms, max_pending), api_keys=keys,
                             url_policy=UrlPolicy.build(allow_url_host or [], allow_url_network or []),
                             media_cache=media_cache, served_name=served_model_name, failed_reward=failed_reward)
    if replicas:
        from unireward.serve.ray_deploy import run_on_ray

        run_on_ray(model, cfg, settings, replicas, host, port, num_gpus=gpus_per_replica, num_cpus=cpus_per_replica)
        return
    app = create_reward_app(load(model, cfg), settings)
    config = uvicorn.Config(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=request_timeout + 5)
    DrainingServer(config, app.state.service).run()
