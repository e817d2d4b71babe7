"""The reward server is safe by default: every limit and every refused media source answers a clear 4xx
naming the field while the server keeps serving; API keys; a full queue answers 429 with Retry-After;
timeouts; a graceful shutdown finishes in-flight work. Real uvicorn on 127.0.0.1, tiny real Qwen2.5-VL."""

from __future__ import annotations

import base64
import threading
import time

import httpx
import pytest

from tests.serve.conftest import data_url, png_bomb, png_bytes
from unireward.serve.batcher import BatchConfig
from unireward.serve.limits import Limits
from unireward.serve.reward_app import BackgroundRewardServer, ServeSettings
from unireward.serve.security import UrlPolicy


PNG = data_url(png_bytes(0))
NOT_A_VIDEO = "data:video/mp4;base64," + base64.b64encode(b"x" * 99).decode()
LIMITS = Limits(max_body_bytes=1 << 20, max_image_pixels=1_000_000, max_group=4, max_items=6, max_frames=5,
                max_images=3, max_video_bytes=50_000)
# hosts on the allow-list whose addresses are still refused (link-local metadata service, private, loopback)
POLICY = UrlPolicy.build(["169.254.169.254", "10.1.2.3", "127.0.0.1"])


@pytest.fixture(scope="module")
def strict(tiny_qwen):
    from unireward.judges.hf import HFJudge

    judge = HFJudge(tiny_qwen, mode="logprob")
    with BackgroundRewardServer(judge, ServeSettings(limits=LIMITS, url_policy=POLICY)) as srv:
        yield srv


def score_item(candidate, task="image_generation", **extra) -> dict:
    return {"items": [{"task": task, "prompt": "a fox", "candidate": candidate, **extra}]}


def group(n: int, **extra) -> dict:
    return {"task": "image_generation", "prompt": "a fox", "candidates": [PNG] * n, **extra}


# (case id, route, body, status, param, words in the message)
CASES = [
    ("file-url", "/v1/score", score_item("file:///etc/passwd"), 400, "items[0].candidate", "never fetched"),
    ("metadata-service", "/v1/score", score_item("http://169.254.169.254/latest/meta-data/"), 400,
     "items[0].candidate", "link-local address"),
    ("private-address", "/v1/score", score_item("http://10.1.2.3/cat.png"), 400, "items[0].candidate",
     "private address"),
    ("loopback-address", "/v1/score", score_item("http://127.0.0.1:1/cat.png"), 400, "items[0].candidate",
     "loopback address"),
    ("host-not-allowed", "/v1/score", score_item("https://example.com/cat.png"), 400, "items[0].candidate",
     "not on the server's --allow-url-host list"),
    ("decompression-bomb", "/v1/score", score_item(data_url(png_bomb(2000, 2000))), 400, "items[0].candidate",
     "4,000,000 pixels, over the limit of 1,000,000"),
    ("not-an-image", "/v1/score", score_item(data_url(b"not a picture")), 400, "items[0].candidate",
     "not a readable image"),
    ("bad-base64", "/v1/score", score_item("data:image/png;base64,@@@"), 400, "items[0].candidate", "invalid base64"),
    ("group-too-large", "/v1/group", group(5), 400, "candidates", "5 candidates, over the limit of 4"),
    ("group-too-many-judgments", "/v1/group", group(4, both_orders=True), 400, "candidates",
     "12 judgments, over the limit of 6"),
    ("group-of-one", "/v1/group", group(1), 400, "candidates", "at least 2"),
    ("too-many-items", "/v1/score", {"items": score_item(PNG)["items"] * 7}, 400, "items",
     "7 items, over the limit of 6"),
    ("too-many-frames", "/v1/score", score_item("A fox.", "video_understanding", media=[PNG] * 6), 400,
     "items[0].media", "6 frames, over the limit of 5"),
    ("video-too-big", "/v1/score", score_item("A fox.", "video_understanding",
                                              media="data:video/mp4;base64," + "A" * 80_000), 400,
     "items[0].media", "over the limit of 50000"),
    ("video-not-a-video", "/v1/score", score_item("A fox.", "video_understanding", media=NOT_A_VIDEO), 400,
     "items[0].media", "not a readable video"),
    ("too-many-shared-images", "/v1/score", score_item("A fox.", "image_understanding", media=[PNG] * 4), 400,
     "items[0].media", "4 images, over the limit of 3"),
    ("missing-shared-media", "/v1/score", score_item("A fox.", "image_understanding"), 400, "items[0].media",
     "needs the shared image"),
    ("understanding-candidate-not-text", "/v1/score", score_item(["x"], "image_understanding", media=PNG), 400,
     "items[0].candidate", "text answer"),
    ("special-token", "/v1/score", {"items": [{"task": "image_generation", "prompt": "a <|image_pad|> fox",
                                               "candidate": PNG}]}, 400, "items[0].prompt", "<|image_pad|>"),
    ("unknown-task", "/v1/score", score_item(PNG, "audio_generation"), 400, "items[0].task", "image_generation"),
    ("unknown-field", "/v1/score", {"items": score_item(PNG)["items"], "temperature": 1}, 400, "temperature",
     "unknown field"),
    ("empty-items", "/v1/compare", {"items": []}, 400, "items", "at least 1"),
    ("prompt-not-string", "/v1/score", {"items": [{"task": "image_generation", "prompt": 5, "candidate": PNG}]}, 400,
     "items[0].prompt", "valid string"),
]


@pytest.mark.parametrize("route,body,status,param,words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refused_with_a_4xx_naming_the_field_and_the_server_keeps_serving(strict, route, body, status, param, words):
    r = httpx.post(strict.url + route, json=body, timeout=60)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["param"] == param and words in err["message"], err
    ok = httpx.post(strict.url + "/v1/score", json=score_item(PNG), timeout=60)
    assert ok.status_code == 200 and ok.json()["scores"][0]["value"] is not None


def test_an_oversized_body_is_refused_before_it_is_read(strict):
    big = b'{"items": "' + b"x" * (2 << 20) + b'"}'
    r = httpx.post(strict.url + "/v1/score", content=big, headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code == 413 and "over the limit of 1048576 bytes" in r.json()["error"]["message"]
    assert httpx.post(strict.url + "/v1/score", json=score_item(PNG), timeout=60).status_code == 200


def test_api_keys_bearer_or_x_api_key_and_open_probes(tiny_qwen):
    from unireward.judges.hf import HFJudge

    judge = HFJudge(tiny_qwen, mode="logprob")
    with BackgroundRewardServer(judge, ServeSettings(api_keys=("s3cret",))) as srv:
        url = srv.url + "/v1/score"
        assert httpx.post(url, json=score_item(PNG), timeout=60).status_code == 401
        assert httpx.post(url, json=score_item(PNG), headers={"Authorization": "Bearer nope"}).status_code == 401
        assert httpx.post(url, json=score_item(PNG), headers={"Authorization": "Bearer s3cret"},
                          timeout=60).status_code == 200
        assert httpx.post(url, json=score_item(PNG), headers={"x-api-key": "s3cret"}, timeout=60).status_code == 200
        assert httpx.get(srv.url + "/health").status_code == 200 and httpx.get(srv.url + "/ready").status_code == 200
        assert httpx.get(srv.url + "/metrics").status_code == 401
        assert httpx.post(srv.url + "/get_reward", json={"query": ["x"]}).status_code == 401  # before validation
    # auth off (the loopback default): no key needed
    with BackgroundRewardServer(judge) as srv:
        assert httpx.post(srv.url + "/v1/score", json=score_item(PNG), timeout=60).status_code == 200


def test_serve_refuses_a_non_loopback_bind_without_a_key(tiny_qwen, monkeypatch):
    from typer.testing import CliRunner

    from unireward.cli import app

    monkeypatch.delenv("UNIREWARD_API_KEY", raising=False)
    r = CliRunner().invoke(app, ["serve", tiny_qwen, "--host", "0.0.0.0"])
    assert r.exit_code != 0 and "needs an API key" in str(r.exception)


def test_a_full_queue_answers_429_with_retry_after(tiny_qwen):
    from unireward.judges.hf import HFJudge

    judge = HFJudge(tiny_qwen, mode="logprob")
    settings = ServeSettings(batching=BatchConfig(max_batch=8, max_wait_ms=1500, max_pending=3))
    with BackgroundRewardServer(judge, settings) as srv:
        box = {}
        first = threading.Thread(target=lambda: box.setdefault("r", httpx.post(
            srv.url + "/v1/score", json={"items": score_item(PNG)["items"] * 3}, timeout=60)))
        first.start()
        _wait(lambda: srv.service.batcher.pending == 3)
        r = httpx.post(srv.url + "/v1/score", json=score_item(PNG), timeout=60)
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
        assert "over the queue limit of 3" in r.json()["error"]["message"]
        assert httpx.get(srv.url + "/ready").status_code == 503  # a full queue is not ready
        first.join(30)
        assert box["r"].status_code == 200
        assert httpx.post(srv.url + "/v1/score", json=score_item(PNG), timeout=60).status_code == 200
        assert 'status="429"' in httpx.get(srv.url + "/metrics").text


def test_a_request_waiting_past_its_timeout_answers_503(tiny_qwen):
    from unireward.judges.hf import HFJudge

    judge = HFJudge(tiny_qwen, mode="logprob")
    settings = ServeSettings(limits=Limits(request_timeout=0.3), batching=BatchConfig(max_batch=8, max_wait_ms=2000))
    with BackgroundRewardServer(judge, settings) as srv:
        r = httpx.post(srv.url + "/v1/score", json=score_item(PNG), timeout=60)
        assert r.status_code == 503 and "retry-after" in r.headers
        _wait(lambda: srv.service.batcher.pending == 0)  # its judgment was dropped, never run
        assert srv.service.batcher.judgments == 0


def test_graceful_shutdown_finishes_in_flight_requests(tiny_qwen):
    from unireward.judges.hf import HFJudge

    judge = HFJudge(tiny_qwen, mode="logprob")
    srv = BackgroundRewardServer(judge, ServeSettings(batching=BatchConfig(max_batch=8, max_wait_ms=1000)))
    with srv:
        box = {}
        t = threading.Thread(target=lambda: box.setdefault("r", httpx.post(srv.url + "/v1/score",
                                                                           json=score_item(PNG), timeout=60)))
        t.start()
        _wait(lambda: srv.service.batcher.pending == 1)
        srv.stop()  # drain: the in-flight request still gets its answer
        t.join(30)
        assert srv.service.draining
        assert box["r"].status_code == 200 and box["r"].json()["scores"][0]["value"] is not None
        assert not srv.thread.is_alive()
        with pytest.raises(httpx.ConnectError):
            httpx.get(srv.url + "/health", timeout=2)


def _wait(cond, timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.01)
