"""`unireward serve` as a Ray Serve deployment with N replicas (the `scale` extra: ``ray[serve]``).

    from unireward.serve.ray_deploy import reward_application
    from ray import serve
    serve.run(reward_application("CodeGoat24/UnifiedReward-qwen-7b", replicas=4, num_gpus=1))

or ``unireward serve MODEL --replicas 4 --gpus-per-replica 1``.

Design choices a user will notice:
- Each replica is the same FastAPI app as the single-process server (`create_reward_app`), built on the
  replica (``__serve_build_asgi_app__``), so every route, limit, auth rule, error shape, batching and metrics
  behave identically; Ray Serve's proxy spreads requests over the replicas and queues at most
  ``max_ongoing_requests`` per replica (its own back-pressure: 503 beyond it), in front of our 429.
- The judge is loaded once per replica from a spec (a folder, hub id, preset, or ``openai://...``), with a
  `JudgeConfig` shipped as is (a frozen, picklable dataclass).
- The proxy binds 127.0.0.1 unless told otherwise; any other host needs an API key, as for a single server.
- ``/metrics`` answers per replica (each has its own registry); scrape through Ray's metrics export or the
  replicas themselves for cluster totals.
"""

from __future__ import annotations

import os
from typing import Any

from unireward.judges.config import JudgeConfig


def reward_deployment(replicas: int = 2, num_cpus: float = 1.0, num_gpus: float = 0.0,
                      max_ongoing_requests: int = 256, name: str = "unireward") -> Any:
    """The Ray Serve deployment class (not yet bound) with `replicas` replicas of the reward server."""
    from ray import serve

    if replicas < 1:
        raise ValueError(f"replicas must be >= 1, got {replicas}")

    @serve.ingress()
    class RewardReplica:
        def __init__(self, model: str, config: JudgeConfig, settings: Any):
            self.model, self.config, self.settings = model, config, settings

        def __serve_build_asgi_app__(self) -> Any:
            from unireward import load_judge
            from unireward.serve.reward_app import create_reward_app

            return create_reward_app(load_judge(self.model, self.config), self.settings)

    return serve.deployment(RewardReplica, name=name, num_replicas=replicas, max_ongoing_requests=max_ongoing_requests,
                            ray_actor_options={"num_cpus": num_cpus, "num_gpus": num_gpus})


def reward_application(model: str, config: JudgeConfig | None = None, settings: Any = None, replicas: int = 2,
                       **deployment_options: Any) -> Any:
    """A bound Ray Serve application: pass it to ``serve.run``."""
    from unireward.serve.reward_app import ServeSettings

    config = config or JudgeConfig(mode="logprob")
    return reward_deployment(replicas, **deployment_options).bind(str(model), config, settings or ServeSettings())


def run_on_ray(model: str, config: JudgeConfig, settings: Any, replicas: int, host: str = "127.0.0.1",
               port: int = 8000, blocking: bool = True, **deployment_options: Any) -> Any:
    """Start (or join, with ``RAY_ADDRESS``) a Ray cluster, and serve the reward app on ``host:port``."""
    import ray
    from ray import serve

    from unireward.serve.security import require_key_off_loopback

    require_key_off_loopback(host, settings.api_keys)
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), include_dashboard=False)
    serve.start(http_options={"host": host, "port": port})
    app = reward_application(model, config, settings, replicas, **deployment_options)
    return serve.run(app, name="unireward", route_prefix="/", blocking=blocking)
