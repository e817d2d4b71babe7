"""Prompt length: a prompt longer than the model's context fails that item, quickly and with a clear message,
while its neighbours in the batch are judged; the openai backend passes the server's length error through."""

from __future__ import annotations

import threading
import time

import pytest

from tests.conftest import random_image
from tests.judges.conftest import item
from unireward import load_judge
from unireward.judges.hf import HFJudge
from unireward.tasks import Form, Task


_cache: dict = {}


def judge(path: str, **kw) -> HFJudge:
    key = (path, tuple(sorted(kw.items())))
    if key not in _cache:
        _cache[key] = HFJudge(path, **kw)
    return _cache[key]


def _lengths(j: HFJudge, x: dict, form: Form) -> tuple[int, int]:
    """(tokens of the item's text alone, tokens of its whole processed prompt: chat template and images)."""
    req = j._request({**x, "task": Task.parse(x["task"])}, form, False)
    return len(j.tokenizer.encode(req.text)), int(j.encode([req])["attention_mask"].sum())


def test_the_limit_comes_from_the_models_config(tiny_qwen):
    j = judge(tiny_qwen, mode="logprob")
    assert j.context == 4096  # build_tiny's max_position_embeddings (text config)
    assert j.prompt_limit(6) == (4090, "the model's context is 4096 tokens, 6 kept for the answer")
    assert j.prompt_limit(4096)[0] == 3072  # the answer's room is capped at a quarter of the context
    assert judge(tiny_qwen, mode="logprob", max_prompt_tokens=500).prompt_limit(6) == (500, "max_prompt_tokens=500")


@pytest.mark.parametrize("mode", ["logprob", "generate"])
def test_a_too_long_prompt_fails_alone(tiny_qwen, mode):
    j = judge(tiny_qwen, mode=mode, max_new_tokens=4, num_frames=4)
    good, other = item("image_generation", "pair"), item("video_understanding", "pair", seed=3)
    long = {**good, "prompt": "a red fox in the snow " * 300}  # 6,600 characters: over 4,096 tokens
    out = j.compare_batch([good, long, other])
    alone = [j.compare_batch([x])[0] for x in (good, other)]
    limit = j.prompt_limit(4)[0] if mode == "generate" else None
    assert out[1].winner is None and out[1].error.startswith("prompt too long: its text alone is more than")
    assert "the model's context is 4096 tokens" in out[1].error and "max_prompt_tokens" in out[1].error
    if limit is not None:
        assert f"more than {limit:,} tokens" in out[1].error
    for got, want in zip((out[0], out[2]), alone):  # the neighbours are judged as if the long item were absent
        assert got.text == want.text and got.error == want.error and got.winner == want.winner
        assert got.error is None or got.error == "no verdict phrase found"  # the random model's free text
        assert got.probs == (pytest.approx(want.probs, abs=1e-5) if want.probs else None)


def test_the_exact_length_counts_media_tokens(tiny_qwen):
    short = item("image_understanding", "pair")
    long = {**short, "media": [random_image(k, 112) for k in range(12)]}  # the same text, twelve images
    j0 = judge(tiny_qwen, mode="logprob")
    (text_short, full_short), (text_long, full_long) = _lengths(j0, short, Form.PAIR), _lengths(j0, long, Form.PAIR)
    limit = full_short + 4  # the short prompt fits; the long one's text fits, but not with its images
    assert text_long == text_short < limit < full_long
    j = judge(tiny_qwen, mode="logprob", max_prompt_tokens=limit)
    out = j.compare_batch([short, long, short])
    assert out[0].ok and out[2].ok
    assert out[1].error == (f"prompt too long: it is {full_long:,} tokens (text and media); at most {limit:,} fit "
                            f"(max_prompt_tokens={limit}). Shorten the prompt, use fewer frames or pixels, or set "
                            "max_prompt_tokens.")


@pytest.mark.parametrize("mode", ["logprob", "generate"])
def test_a_megabyte_prompt_fails_fast(tiny_qwen, mode):
    j = judge(tiny_qwen, mode=mode, max_new_tokens=4, num_frames=4)
    good = item("image_generation", "point")
    huge = {**good, "prompt": "a red fox in the snow " * 48_000}  # 1.05 MB
    j.score_batch([good])  # warm up
    start = time.perf_counter()
    out = j.score_batch([good, huge, good])
    elapsed = time.perf_counter() - start
    assert out[1].value is None and out[1].error.startswith("prompt too long: its text alone is more than")
    assert "of its 1,056," in out[1].error  # the character count, as the user can check it
    assert out[0].text == out[2].text and not (out[0].error or "").startswith("prompt too long")
    assert elapsed < 3.0, f"{elapsed:.2f} s"  # two small items and a refused megabyte
    start = time.perf_counter()
    assert j.score_batch([huge])[0].error == out[1].error
    print(f"{mode}: the 1 MB item alone fails in {time.perf_counter() - start:.3f} s")


# ---------------------------------------------------------------- the openai backend
class LengthCheckingServer:
    """A chat-completions server that, as vLLM does, answers 400 to a prompt over its context."""

    MESSAGE = ("This model's maximum context length is 4096 tokens. However, you requested 9000 tokens "
               "(8996 in the messages, 4 in the completion). Please reduce the length of the messages.")

    def __init__(self, statuses: list[int] | None = None):
        import socket

        import uvicorn
        from fastapi import FastAPI
        from fastapi.responses import JSONResponse

        self.statuses, self.calls = list(statuses or []), 0
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(body: dict):
            self.calls += 1
            if self.statuses:
                status = self.statuses.pop(0)
                return JSONResponse({"error": {"message": f"transient {status}"}}, status_code=status)
            text = body["messages"][-1]["content"][-1]["text"]
            if len(text) > 5000:
                return JSONResponse({"object": "error", "message": self.MESSAGE, "type": "BadRequestError",
                                     "param": None, "code": 400}, status_code=400)
            return {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Image 1 is better."},
                                 "finish_reason": "stop"}]}

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


def test_openai_length_error_fails_only_that_item_and_is_not_retried():
    with LengthCheckingServer() as srv:
        j = load_judge(f"openai://127.0.0.1:{srv.port}/m", backoff=0.01)
        good = item("image_generation", "pair")
        out = j.compare_batch([good, {**good, "prompt": "a red fox " * 1000}, good])
        assert [v.winner for v in out] == ["A", None, "A"]
        assert out[1].error == f"RuntimeError: server answered 400: {LengthCheckingServer.MESSAGE}"
        assert srv.calls == 3 and j.calls == 3  # one request per item: the 400 is not retried, nothing resent


@pytest.mark.parametrize("status", [408, 409])
def test_openai_retries_408_and_409(status):
    with LengthCheckingServer(statuses=[status, status]) as srv:
        j = load_judge(f"openai://127.0.0.1:{srv.port}/m", backoff=0.01)
        assert j.compare_batch([item("image_generation", "pair")])[0].winner == "A"
        assert srv.calls == 3
