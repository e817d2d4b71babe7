"""What the OpenAI-compatible server implements, against real tiny models over real HTTP: an int
``eos_token_id`` (llava-hf LLaVA-OneVision), ``max_completion_tokens``, ``stop``, ``n``, ``stream`` (read
back with the official openai client), and the command line's safety rules."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.judges.conftest import item
from tests.serve.conftest import chat, data_url, error_of, png_bytes, user
from unireward import load_judge
from unireward.judges.hf import HFJudge
from unireward.serve.openai_compat import BackgroundServer, settings


PNG = data_url(png_bytes())


def _text(served, **kw) -> dict:
    r = chat(served.url, {"messages": user("Describe the image.", PNG), **kw})
    assert r.status_code == 200, r.text
    return r.json()


def test_llava_onevision_with_an_int_eos_token_id(llava_int_eos):
    """The finding: every request answered 500 (`set(int)`); now it answers, and as the in-process judge."""
    assert isinstance(json.load(open(f"{llava_int_eos}/generation_config.json"))["eos_token_id"], int)
    with BackgroundServer(llava_int_eos, served_name="llava") as srv:
        r = chat(srv.url, {"messages": user("Describe the image.", PNG), "max_tokens": 4})
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["finish_reason"] in ("stop", "length")
        remote = load_judge(f"openai://127.0.0.1:{srv.port}/llava", max_new_tokens=5, image_format="PNG")
        local = HFJudge(llava_int_eos, max_new_tokens=5)
        items = [item("image_generation", "pair"), item("image_understanding", "point")]
        assert [v.text for v in remote.compare_batch(items[:1])] == [v.text for v in local.compare_batch(items[:1])]
        assert remote.score_batch(items[1:])[0].text == local.score_batch(items[1:])[0].text


def test_max_completion_tokens_is_max_tokens(served):
    a = _text(served, max_tokens=6)
    b = _text(served, max_completion_tokens=6)
    assert a["choices"][0]["message"] == b["choices"][0]["message"]
    assert b["usage"]["completion_tokens"] == 6 and b["choices"][0]["finish_reason"] == "length"
    r = chat(served.url, {"messages": user(), "max_tokens": 5, "max_completion_tokens": 6})
    assert r.status_code == 400 and "max_tokens and max_completion_tokens differ" in error_of(r)["message"]


def test_stop_strings_cut_the_text(served):
    full = _text(served, max_tokens=24)["choices"][0]["message"]["content"]
    k = next(i for i, ch in enumerate(full) if i >= 2 and ch.isascii() and ch.isprintable() and ch != " ")
    stop = full[k]
    cut = _text(served, max_tokens=24, stop=stop, logprobs=True)["choices"][0]
    assert cut["message"]["content"] == full[:full.index(stop)]
    assert cut["finish_reason"] == "stop"
    assert len(cut["logprobs"]["content"]) <= 24
    listed = _text(served, max_tokens=24, stop=["\x00never", stop])["choices"][0]
    assert listed["message"]["content"] == cut["message"]["content"]


def test_n_greedy_gives_identical_choices_and_sampling_gives_n_samples(served):
    greedy = _text(served, max_tokens=5, n=3)
    texts = [c["message"]["content"] for c in greedy["choices"]]
    assert [c["index"] for c in greedy["choices"]] == [0, 1, 2] and len(set(texts)) == 1
    assert texts[0] == _text(served, max_tokens=5)["choices"][0]["message"]["content"]
    sampled = _text(served, max_tokens=8, n=3, temperature=1.0, seed=0)
    assert len(sampled["choices"]) == 3
    assert len({c["message"]["content"] for c in sampled["choices"]}) > 1
    assert 3 <= sampled["usage"]["completion_tokens"] <= 24
    again = _text(served, max_tokens=8, n=3, temperature=1.0, seed=0)
    assert again["choices"] == sampled["choices"]  # a seed makes sampling reproducible


def test_stream_is_server_sent_events_in_the_openai_chunk_format(served):
    from openai import OpenAI

    client = OpenAI(base_url=f"{served.url}/v1", api_key="unused", max_retries=0)
    messages = user("Describe the image.", PNG)
    plain = client.chat.completions.create(model="tiny", messages=messages, max_tokens=6)
    chunks = list(client.chat.completions.create(model="tiny", messages=messages, max_tokens=6, stream=True,
                                                 stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == plain.choices[0].finish_reason
    assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
    with httpx.stream("POST", f"{served.url}/v1/chat/completions", timeout=60,
                      json={"messages": messages, "max_tokens": 2, "stream": True}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [x for x in r.iter_lines() if x]
    assert lines[-1] == "data: [DONE]" and all(x.startswith("data: ") for x in lines)


def test_health_and_models(served):
    assert httpx.get(f"{served.url}/health").json()["status"] == "ok"
    models = httpx.get(f"{served.url}/v1/models").json()["data"]
    assert models[0]["id"] == "tiny" and models[0]["max_model_len"] == 4096


def test_a_non_loopback_bind_needs_an_api_key(monkeypatch):
    monkeypatch.delenv("UNIREWARD_API_KEY", raising=False)
    with pytest.raises(SystemExit, match="needs an API key"):
        settings(["MODEL", "--host", "0.0.0.0"])
    _, options = settings(["MODEL", "--host", "0.0.0.0", "--api-key", "k1"])
    assert options["api_keys"] == ["k1"]
    monkeypatch.setenv("UNIREWARD_API_KEY", "from-env")
    _, options = settings(["MODEL", "--host", "0.0.0.0", "--max-body-mb", "1", "--allow-url-host", "img.example"])
    assert options["api_keys"] == ["from-env"] and options["limits"].max_body_bytes == 1 << 20
    assert options["url_policy"].allow_hosts == {"img.example"}
    _, options = settings(["MODEL"])  # loopback: a key is optional
    assert options["limits"].max_tokens == 4096


def test_api_key_bearer_or_x_api_key(qwen_judge):
    with BackgroundServer(qwen_judge, served_name="tiny", api_keys=["s3cret"]) as srv:
        body = {"messages": user(), "max_tokens": 1}
        assert chat(srv.url, body).status_code == 401
        r = chat(srv.url, body, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401 and "API key" in error_of(r)["message"]
        assert chat(srv.url, body, headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert chat(srv.url, body, headers={"x-api-key": "s3cret"}).status_code == 200
        assert httpx.get(f"{srv.url}/v1/models").status_code == 401
        assert httpx.get(f"{srv.url}/health").status_code == 200
        remote = load_judge(f"openai://127.0.0.1:{srv.port}/tiny", api_key="s3cret", max_new_tokens=2)
        v = remote.compare_batch([item("image_generation", "pair")])[0]
        assert v.text and "server answered" not in (v.error or "")  # answered (the random model's text)


def test_the_command_line_still_serves(tiny_qwen, tmp_path):
    """``python -m unireward.serve.openai_compat MODEL_DIR --port P`` (loopback, no key) answers requests."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("UNIREWARD_API_KEY", None)
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "unireward.serve.openai_compat", tiny_qwen, "--port", str(port),
                             "--served-model-name", "cli"], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        r = chat(f"http://127.0.0.1:{port}", {"model": "cli", "messages": user(), "max_tokens": 2})
        assert r.status_code == 200, (tmp_path / "server.log").read_text()[-2000:]
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
