"""The reward server (`unireward serve`) on a real uvicorn on 127.0.0.1 with a tiny real Qwen2.5-VL judge:
every route, answers equal to the in-process judge, batching, the media cache, metrics and readiness."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest

from tests.serve.conftest import data_url, png_bytes
from unireward.serve.batcher import BatchConfig
from unireward.serve.reward_app import BackgroundRewardServer, ServeSettings


PNG = [data_url(png_bytes(seed)) for seed in range(8)]


@pytest.fixture(scope="session")
def logprob_judge(tiny_qwen):
    from unireward.judges.hf import HFJudge

    return HFJudge(tiny_qwen, mode="logprob")


@pytest.fixture(scope="module")
def reward_server(logprob_judge):
    with BackgroundRewardServer(logprob_judge, ServeSettings(served_name="tiny")) as srv:
        yield srv


def post(srv, path: str, body: dict, **kw) -> httpx.Response:
    return httpx.post(srv.url + path, json=body, timeout=120, **kw)


def test_compare_and_score_equal_the_in_process_judge(reward_server, logprob_judge, media_dir):
    from unireward.media import load_image

    a, b = (load_image(png_bytes(s)) for s in (0, 1))
    r = post(reward_server, "/v1/compare", {"items": [
        {"task": "image_generation", "prompt": "a red fox", "a": PNG[0], "b": PNG[1]},
        {"task": "image_understanding", "prompt": "What is it?", "a": "A fox.", "b": "A cup.", "media": PNG[2]}]})
    assert r.status_code == 200, r.text
    got = r.json()["verdicts"]
    want = logprob_judge.compare_batch([
        {"task": "image_generation", "prompt": "a red fox", "a": a, "b": b},
        {"task": "image_understanding", "prompt": "What is it?", "a": "A fox.", "b": "A cup.",
         "media": load_image(png_bytes(2))}])
    for g, w in zip(got, want):
        assert g["winner"] == w.winner and g["error"] is None
        assert g["prob_a"] == pytest.approx(w.prob_a, abs=1e-5)
    r = post(reward_server, "/v1/score", {"items": [{"task": "image_generation", "prompt": "a red fox",
                                                     "candidate": PNG[0]}]})
    s = r.json()["scores"][0]
    want_s = logprob_judge.score_batch([{"task": "image_generation", "prompt": "a red fox", "candidate": a}])[0]
    assert s["value"] == pytest.approx(want_s.value, abs=1e-4) and s["error"] is None
    assert 0 <= s["normalized"] <= 1 and s["value"] != round(s["value"])  # an expected score, not an integer


def test_videos_as_frame_lists_and_as_mp4(reward_server, media_dir):
    mp4 = "data:video/mp4;base64," + base64.b64encode((media_dir / "a.mp4").read_bytes()).decode()
    r = post(reward_server, "/v1/compare", {"items": [
        {"task": "video_generation", "prompt": "a moving square", "a": PNG[:4], "b": mp4}]})
    assert r.status_code == 200 and r.json()["verdicts"][0]["error"] is None, r.text
    r = post(reward_server, "/v1/score", {"items": [
        {"task": "video_understanding", "prompt": "What moves?", "candidate": "A square.", "media": mp4},
        {"task": "video_generation", "prompt": "a moving square", "candidate": PNG[:4]}]})
    assert r.status_code == 200, r.text
    ok, refused = r.json()["scores"]
    assert ok["value"] is not None
    # the video-generation point template writes dimension lines first: logprob refuses it for that item only
    assert refused["value"] is None and "logprob mode cannot read" in refused["error"]


def test_group_win_rates_and_the_media_cache(logprob_judge):
    body = {"task": "image_generation", "prompt": "a red fox", "candidates": PNG[:4], "both_orders": True}
    answers = {}
    for cache in (True, False):
        with BackgroundRewardServer(logprob_judge, ServeSettings(media_cache=cache)) as srv:
            r = post(srv, "/v1/group", body)
            assert r.status_code == 200, r.text
            answers[cache] = r.json()
    on, off = answers[True], answers[False]
    assert on["judgments"] == 12 and len(on["pairs"]) == 12 and on["failed"] == 0
    assert on["media"] == {"decoded": 4, "reused": 20}  # 4 images, 24 occurrences in the 12 ordered pairs
    assert off["media"] == {"decoded": 24, "reused": 0}
    assert on["win_rates"] == pytest.approx(off["win_rates"])
    assert sum(on["win_rates"]) == pytest.approx(4 * 3 / 2 / 3)  # every pair hands out exactly one point
    from unireward.rewards.winrate import win_rates

    assert on["win_rates"] == pytest.approx(win_rates(4, [(p["a"], p["b"], p["winner"]) for p in on["pairs"]]))


def test_understanding_group(reward_server):
    r = post(reward_server, "/v1/group", {"task": "image_understanding", "prompt": "What is it?",
                                          "candidates": ["A fox.", "A cup.", "A car."], "media": PNG[0]})
    assert r.status_code == 200, r.text
    assert len(r.json()["win_rates"]) == 3 and r.json()["judgments"] == 3


def test_openrlhf_payload(reward_server):
    """The body OpenRLHF's remote_rm client sends (query = prompt + response with chat markup, prompts,
    labels), plus our media key: one reward per query."""
    prompt = "<|im_start|>user\nWhat is in the image?<|im_end|>\n<|im_start|>assistant\n"
    body = {"query": [prompt + "A fox.<|im_end|>", prompt + "A cup.<|im_end|>"], "prompts": [prompt, prompt],
            "labels": ["", ""], "images": [PNG[0], PNG[0]]}
    r = post(reward_server, "/get_reward", body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert len(out["rewards"]) == 2 and all(isinstance(x, float) and 0 <= x <= 1 for x in out["rewards"])
    assert out["errors"] == [None, None] and out["extra_logs"]["judge_failed"] == [0.0, 0.0]
    missing = post(reward_server, "/get_reward", {"query": ["hi"], "prompts": ["hi"]})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "images"
    mismatch = post(reward_server, "/get_reward", {"query": ["a", "b"], "prompts": ["a"], "images": [PNG[0]] * 2})
    assert mismatch.status_code == 400
    assert "prompts has 1 entries but query has 2" in mismatch.json()["error"]["message"]


def test_the_openai_chat_route_still_serves(reward_server, tiny_qwen):
    from unireward import load_judge

    r = post(reward_server, "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}],
                                                     "max_tokens": 2})
    assert r.status_code == 200 and r.json()["choices"][0]["finish_reason"] in ("stop", "length")
    assert httpx.get(reward_server.url + "/v1/models").json()["data"][0]["id"] == "tiny"
    remote = load_judge(f"openai://127.0.0.1:{reward_server.port}/tiny", max_new_tokens=4, image_format="PNG")
    assert remote.compare("image_generation", "a fox", png_bytes(0), png_bytes(1)).text is not None


def test_health_readiness_metrics_and_judge_info(reward_server):
    assert httpx.get(reward_server.url + "/health").json() == {"status": "ok"}
    ready = httpx.get(reward_server.url + "/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    info = httpx.get(reward_server.url + "/v1/judge").json()
    assert info["mode"] == "logprob" and info["max_batch"] == 16
    post(reward_server, "/v1/score", {"items": [{"task": "image_generation", "prompt": "x", "candidate": PNG[0]}]})
    text = httpx.get(reward_server.url + "/metrics").text
    for name in ("unireward_queue_depth", "unireward_batch_size_bucket", "unireward_request_seconds_bucket",
                 "unireward_judgments_total", "unireward_judgments_per_second", "unireward_media_decoded_total"):
        assert name in text, name
    assert 'unireward_requests_total{route="/v1/score",status="200"}' in text


def test_concurrent_requests_are_coalesced_into_batches(logprob_judge):
    settings = ServeSettings(batching=BatchConfig(max_batch=8, max_wait_ms=300))
    with BackgroundRewardServer(logprob_judge, settings) as srv:
        async def main():
            async with httpx.AsyncClient(base_url=srv.url, timeout=60) as c:
                return await asyncio.gather(*(c.post("/v1/score", json={"items": [
                    {"task": "image_generation", "prompt": "a fox", "candidate": PNG[k]}]}) for k in range(8)))

        answers = asyncio.run(main())
        assert [r.status_code for r in answers] == [200] * 8
        b = srv.service.batcher
        assert b.judgments == 8 and b.batches <= 2  # 8 requests, one or two model calls


def test_batching_off_runs_one_judgment_per_call(logprob_judge):
    with BackgroundRewardServer(logprob_judge, ServeSettings(batching=BatchConfig(max_batch=1))) as srv:
        r = post(srv, "/v1/score", {"items": [{"task": "image_generation", "prompt": "a fox", "candidate": p}
                                              for p in PNG[:3]]})
        assert r.status_code == 200 and srv.service.batcher.batches == 3
