"""The openai backend against real HTTP servers on 127.0.0.1: our OpenAI-compatible server backed by a
tiny model (answers must equal the in-process hf judge), and scripted servers for retries and errors."""

from __future__ import annotations

import asyncio
import base64
import io
import threading
import time

import pytest
from PIL import Image

from tests.judges.conftest import item
from unireward import load_judge
from unireward.judges.hf import HFJudge
from unireward.serve.openai_compat import BackgroundServer


@pytest.fixture(scope="module")
def served(tiny_qwen):
    with BackgroundServer(tiny_qwen, served_name="tiny") as srv:
        yield srv.port


def test_generate_matches_in_process_judge(served, tiny_qwen):
    remote = load_judge(f"openai://127.0.0.1:{served}/tiny", max_new_tokens=6, image_format="PNG")
    local = HFJudge(tiny_qwen, max_new_tokens=6)
    items = [item("image_generation", "pair"), item("video_understanding", "pair", seed=4)]
    assert [v.text for v in remote.compare_batch(items)] == [v.text for v in local.compare_batch(items)]
    s = remote.score_batch([item("image_understanding", "point")])[0]
    assert s.text == local.score_batch([item("image_understanding", "point")])[0].text


def test_logprob_matches_in_process_judge(served, tiny_qwen):
    remote = load_judge(f"openai://127.0.0.1:{served}/tiny", mode="logprob", top_logprobs=1000, image_format="PNG")
    local = HFJudge(tiny_qwen, mode="logprob")
    for x, form in [(item("image_generation", "pair"), "pair"), (item("image_generation", "point"), "point"),
                    (item("video_understanding", "pair"), "pair")]:  # the point template has a decimal grid
        got = (remote.compare_batch if form == "pair" else remote.score_batch)([x])[0]
        want = (local.compare_batch if form == "pair" else local.score_batch)([x])[0]
        assert got.error is None, got.error
        for k, p in want.probs.items():
            assert got.probs.get(k, 0.0) == pytest.approx(p, abs=1e-4), k
    assert remote.calls > 0
    # a template logprob cannot read is refused with the hf backend's message, and nothing is sent
    think = load_judge(f"openai://127.0.0.1:{served}/tiny", mode="logprob", family="think")
    refused = think.compare_batch([item("image_generation", "pair")])[0]
    assert refused.error == HFJudge(tiny_qwen, mode="logprob", family="think").compare_batch(
        [item("image_generation", "pair")])[0].error
    assert "think/image_generation/pair" in refused.error and think.calls == 0


def test_logprob_with_a_small_top_k_says_so(served):
    remote = load_judge(f"openai://127.0.0.1:{served}/tiny", mode="logprob", top_logprobs=1)
    v = remote.compare_batch([item("image_generation", "pair")])[0]
    # the random model rarely puts an option first: either an answer or a clear error, never a silent default
    assert v.ok or "no answer option among the top 1 tokens" in v.error


# ---------------------------------------------------------------- scripted servers
class Scripted:
    """A chat-completions server whose answers follow a script; it records what it receives."""

    def __init__(self, script):
        import socket

        import uvicorn
        from fastapi import FastAPI
        from fastapi.responses import JSONResponse

        self.script, self.bodies, self.in_flight, self.max_in_flight = list(script), [], 0, 0
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(body: dict):
            self.bodies.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            step = self.script.pop(0) if self.script else ("ok", "Image 1 is better.")
            try:
                kind, value = step
                if kind == "sleep":
                    await asyncio.sleep(value)
                    value = "Image 1 is better."
                if kind == "status":
                    return JSONResponse({"error": {"message": f"scripted {value}"}}, status_code=value)
                await asyncio.sleep(0.05)
                return {"choices": [{"index": 0, "message": {"role": "assistant", "content": value},
                                     "finish_reason": "stop"}]}
            finally:
                self.in_flight -= 1

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(5)


def _judge(port, **kw):
    return load_judge(f"openai://127.0.0.1:{port}/m", backoff=0.01, **kw)


def test_retries_on_429_and_5xx():
    with Scripted([("status", 429), ("status", 503), ("ok", "Image 2 is better.")]) as srv:
        j = _judge(srv.port)
        v = j.compare_batch([item("image_generation", "pair")])[0]
        assert v.winner == "B" and j.calls == 3


def test_client_errors_are_not_retried_and_name_the_status():
    with Scripted([("status", 400)]) as srv:
        j = _judge(srv.port)
        v = j.compare_batch([item("image_generation", "pair")])[0]
        assert v.winner is None and "server answered 400" in v.error and "scripted 400" in v.error
        assert j.calls == 1


def test_gives_up_after_max_retries_and_times_out():
    with Scripted([("status", 500)] * 3) as srv:
        j = _judge(srv.port, max_retries=2)
        v = j.compare_batch([item("image_generation", "pair")])[0]
        assert "server answered 500" in v.error and j.calls == 3
    with Scripted([("sleep", 2.0)] * 2) as srv:
        j = _judge(srv.port, max_retries=1, timeout=0.3)
        v = j.compare_batch([item("image_generation", "pair")])[0]
        assert "no answer from" in v.error and "after 2 tries" in v.error


def test_bounded_concurrency_and_message_layout():
    with Scripted([]) as srv:
        j = _judge(srv.port, concurrency=2)
        out = j.compare_batch([item("image_generation", "pair", seed=s) for s in range(6)])
        assert [v.winner for v in out] == ["A"] * 6
        assert srv.max_in_flight <= 2
        body = srv.bodies[0]
        assert body["temperature"] == 0.0 and body["model"] == "m"
        parts = body["messages"][0]["content"]
        assert [p["type"] for p in parts] == ["image_url", "image_url", "text"]  # images before the text
        url = parts[0]["image_url"]["url"]
        assert url.startswith("data:image/jpeg;base64,")
        img = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        assert img.size == (64, 64)
        assert "Text Caption: [a red fox]" in parts[2]["text"]


def test_works_inside_a_running_event_loop():
    with Scripted([]) as srv:
        j = _judge(srv.port)

        async def inside():
            return j.compare_batch([item("image_generation", "pair")])[0]

        assert asyncio.run(inside()).winner == "A"


# ---------------------------------------------------------------- several endpoints
def test_several_endpoints_least_outstanding_requests():
    slow_script = [("sleep", 0.6)] * 20
    with Scripted(slow_script) as slow, Scripted([]) as fast:
        j = load_judge(f"openai://127.0.0.1:{slow.port},127.0.0.1:{fast.port}/m", backoff=0.01, concurrency=4)
        assert j.endpoints == [f"http://127.0.0.1:{slow.port}/v1", f"http://127.0.0.1:{fast.port}/v1"]
        out = j.compare_batch([item("image_generation", "pair", seed=s) for s in range(12)])
        assert [v.winner for v in out] == ["A"] * 12
        # the slow server keeps its requests in flight, so the fast one gets the others
        assert len(fast.bodies) >= 8 and len(slow.bodies) + len(fast.bodies) == 12
        assert j.sent == [len(slow.bodies), len(fast.bodies)] and j.outstanding == [0, 0]


def test_equal_endpoints_share_the_load_and_a_retry_goes_elsewhere():
    with Scripted([]) as a, Scripted([]) as b:
        j = OpenAIJudgeFor([a.port, b.port], concurrency=8)
        j.compare_batch([item("image_generation", "pair", seed=s) for s in range(8)])
        assert len(a.bodies) == 4 and len(b.bodies) == 4
    with Scripted([("status", 503)]) as a, Scripted([]) as b:
        j = OpenAIJudgeFor([a.port, b.port], concurrency=1)
        v = j.compare_batch([item("image_generation", "pair")])[0]
        assert v.winner == "A" and j.calls == 2 and len(a.bodies) == 1 and len(b.bodies) == 1


def test_bad_endpoint_lists_are_refused():
    from unireward.judges.openai import OpenAIJudge

    with pytest.raises(ValueError, match="expected http"):
        OpenAIJudge(base_url=["127.0.0.1:8000"], model="m")


def OpenAIJudgeFor(ports, **kw):
    from unireward.judges.openai import OpenAIJudge

    return OpenAIJudge(base_url=[f"http://127.0.0.1:{p}/v1" for p in ports], model="m", backoff=0.01, **kw)
