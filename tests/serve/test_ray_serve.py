"""`unireward serve` as a Ray Serve deployment: 2 replicas on a local Ray instance (127.0.0.1 only), each the
same reward app; requests spread over both, every answer correct."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from tests.serve.conftest import data_url, png_bytes


pytest.importorskip("ray.serve")


@pytest.fixture(scope="module")
def ray_url(tiny_qwen):
    import ray
    from ray import serve

    from unireward.judges.config import JudgeConfig
    from unireward.serve.ray_deploy import reward_application

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}})
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        app = reward_application(tiny_qwen, JudgeConfig(mode="logprob", device="cpu"), replicas=2, num_cpus=0.5)
        serve.run(app, name="unireward", route_prefix="/")
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.shutdown()


def test_two_replicas_serve_the_same_app(ray_url):
    from ray import serve

    assert serve.status().applications["unireward"].deployments["unireward"].replica_states == {"RUNNING": 2}
    items = [{"task": "image_generation", "prompt": "a fox", "a": data_url(png_bytes(0)), "b": data_url(png_bytes(1))}]

    async def main():
        async with httpx.AsyncClient(base_url=ray_url, timeout=120) as c:
            answers = await asyncio.gather(*(c.post("/v1/compare", json={"items": items}) for _ in range(16)))
            replicas = {(await c.get("/v1/judge")).json()["replica"] for _ in range(40)}
            return answers, replicas

    answers, replicas = asyncio.run(main())
    assert [r.status_code for r in answers] == [200] * 16
    assert len({round(r.json()["verdicts"][0]["prob_a"], 6) for r in answers}) == 1  # same model, same answer
    assert len(replicas) == 2  # both replicas answered
    # the same safety rules on every replica
    bad = httpx.post(ray_url + "/v1/score", json={"items": [{"task": "image_generation", "prompt": "x",
                                                            "candidate": "file:///etc/passwd"}]}, timeout=60)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "items[0].candidate"
