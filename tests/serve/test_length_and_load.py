"""Length, load and disconnection: a 1 MB prompt is refused in about a second while others are answered;
prompts with images are counted whole; a full queue answers 429, a long wait 503, a long generation 504;
work for a client that has gone is stopped or never started; the openai backend does not retry 4xx."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.judges.conftest import item
from tests.serve.conftest import chat, data_url, error_of, png_bytes, user
from unireward import load_judge
from unireward.serve.limits import Limits
from unireward.serve.openai_compat import BackgroundServer


PNG = data_url(png_bytes())
LONG = 3000  # new tokens: 2.5 s (1 thread) to 30 s (a loaded CPU) of generation for the tiny model, unless stopped


def _good(max_tokens: int = 1) -> dict:
    return {"messages": user("Describe the image.", PNG), "max_tokens": max_tokens}


@pytest.fixture(scope="module")
def endless_judge(tiny_qwen):
    """A judge whose model never stops on its own: without an end token a LONG generation runs until it is
    stopped or reaches its length, whatever tokens the random weights pick on this machine's thread count."""
    from unireward.judges.hf import HFJudge

    judge = HFJudge(tiny_qwen)
    judge.model.generation_config.eos_token_id = None
    return judge


def test_a_1mb_prompt_is_refused_quickly_while_a_small_request_is_answered(served):
    huge = {"messages": user("lorem ipsum " * 87_382), "max_tokens": 4}  # 1 MiB of text

    async def main():
        async with httpx.AsyncClient(base_url=served.url, timeout=60) as client:
            async def timed(body):
                t = time.perf_counter()
                r = await client.post("/v1/chat/completions", json=body)
                return r, time.perf_counter() - t

            return await asyncio.gather(timed(huge), timed(_good(4)), timed(_good(4)))

    (big, t_big), *small = asyncio.run(main())
    assert big.status_code == 400
    msg = error_of(big)["message"]
    assert msg.startswith("messages: prompt is more than 4096 tokens") and "the context is 4096 tokens" in msg
    assert t_big < 3.0, t_big
    assert [r.status_code for r, _ in small] == [200, 200]
    assert all(t < 10.0 for _, t in small)


def test_images_count_towards_the_context(qwen_judge):
    with BackgroundServer(qwen_judge, served_name="tiny", limits=Limits(max_context=90)) as srv:
        assert chat(srv.url, {"messages": user("Describe."), "max_tokens": 1}).status_code == 200
        r = chat(srv.url, {"messages": user("Describe.", *[PNG] * 8), "max_tokens": 1})
        assert r.status_code == 400, r.text
        assert "(images included), the context is 90 tokens" in error_of(r)["message"]
        r = chat(srv.url, {"messages": user("Describe."), "max_tokens": 500})  # fits, then stops at the context
        assert r.status_code == 200 and r.json()["choices"][0]["finish_reason"] == "length"
        assert r.json()["usage"]["total_tokens"] <= 90


def _wait(predicate, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_disconnected_client_stops_its_generation_and_queued_work_is_never_started(endless_judge):
    with BackgroundServer(endless_judge, served_name="tiny") as srv:
        stats = srv.app.state.engine.stats

        async def leave_early(delay: float, max_tokens: int):
            async with httpx.AsyncClient(base_url=srv.url, timeout=delay) as client:
                with pytest.raises(httpx.ReadTimeout):
                    await client.post("/v1/chat/completions", json=_good(max_tokens))

        async def main():  # the first holds the model for ~30 s unless stopped; the second waits behind it
            first = asyncio.create_task(leave_early(1.5, LONG))
            await asyncio.sleep(0.3)
            await leave_early(0.5, LONG)  # gone at 0.8 s, while the first still runs
            await first

        t = time.perf_counter()
        asyncio.run(main())
        assert _wait(lambda: stats["cancelled"] == 1 and stats["skipped"] == 1), dict(stats)
        assert stats["started"] == 1  # the queued request's generation never ran
        r = chat(srv.url, _good())
        assert r.status_code == 200 and time.perf_counter() - t < 10.0


def test_full_queue_429_and_timeouts_stop_generation(endless_judge):
    limits = Limits(request_timeout=1.0, max_queue=1)  # well under LONG's generation time on any thread count
    with BackgroundServer(endless_judge, served_name="tiny", limits=limits) as srv:

        async def main():
            async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
                first = asyncio.create_task(client.post("/v1/chat/completions", json=_good(LONG)))
                await asyncio.sleep(0.3)  # the first now holds the model
                second = asyncio.create_task(client.post("/v1/chat/completions", json=_good(LONG)))
                await asyncio.sleep(0.2)  # the second now waits in the queue
                third = await client.post("/v1/chat/completions", json=_good())
                return await first, await second, third

        t = time.perf_counter()
        first, second, third = asyncio.run(main())
        assert third.status_code == 429 and third.headers["retry-after"] == "1"
        # the second waits (503 if its time runs out in the queue) or starts with what is left of it (504)
        assert second.status_code in (503, 504) and "request timeout" in error_of(second)["message"]
        assert first.status_code == 504 and "request timeout of 1 s" in error_of(first)["message"]
        assert time.perf_counter() - t < 8.0
        assert chat(srv.url, _good()).status_code == 200  # the lock was released


def _too_long_items() -> list[dict]:
    return [item("image_generation", "pair", prompt="x" * 1_000_000),
            item("image_generation", "point", prompt="y" * 20_000),
            item("image_generation", "pair", seed=3, prompt="z" * 5_000)]


@pytest.mark.parametrize("batch_size", [1, 16])
def test_three_bad_items_cost_three_calls(served, batch_size):
    """The finding: 500s made the openai backend retry (14 calls, 64 s for 3 items). Now they are 400s."""
    judge = load_judge(f"openai://127.0.0.1:{served.port}/tiny", batch_size=batch_size, max_new_tokens=2)
    bad = _too_long_items()
    t = time.perf_counter()
    verdicts = judge.compare_batch([bad[0], bad[2]]) + judge.score_batch([bad[1]])
    assert all(v.error and "server answered 400" in v.error and "the context is 4096 tokens" in v.error
               for v in verdicts), [v.error for v in verdicts]
    assert judge.calls == 3
    assert time.perf_counter() - t < 10.0


def test_bad_items_do_not_sink_good_neighbours(served):
    judge = load_judge(f"openai://127.0.0.1:{served.port}/tiny", batch_size=16, max_new_tokens=2)
    items = [item("image_generation", "pair", seed=1), _too_long_items()[0], item("image_generation", "pair", seed=2)]
    out = judge.compare_batch(items)
    assert "the context is 4096 tokens" in out[1].error
    assert [("server answered" in (v.error or "")) for v in (out[0], out[2])] == [False, False]
