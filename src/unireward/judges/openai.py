"""The `openai` backend: a judge served behind an OpenAI-compatible chat-completions API (vLLM, SGLang).

Design choices a user will notice:
- One user message per judgment: the images (video frames included) as base64 data-URL parts, then the
  text, as the released checkpoints were trained. JPEG quality 95 by default (``image_format="PNG"`` for
  lossless).
- Greedy decoding: ``temperature=0`` is sent explicitly (upstream's client leaves it to the server).
- Requests run concurrently, at most `concurrency` in flight; 408, 409, 429 and 5xx answers, timeouts and
  dropped connections are retried with exponential back-off (`max_retries`); any other 4xx (a prompt
  longer than the model's context, a malformed request) is never retried: it fails that item alone, and
  the item's `error` carries the status and the server's own message.
- Logprob mode asks for ``top_logprobs`` after an assistant prefix (``continue_final_message``, a vLLM and
  SGLang extension) and walks the answer options token by token, one request per step (the branches of a
  step concurrently): a numeral such as "3.7" is followed through "3", "3." and "3.7", "3" alone counts
  the mass of tokens that do not continue it (no digit, and no "." on a decimal scale), as in the hf
  backend. Branches below `MIN_BRANCH` probability are not followed. Probability mass outside the top-k
  is invisible, so raise `top_logprobs` where the server allows it.
- Several endpoints (several vLLM/SGLang servers of the same model, as behind VeRL's router):
  ``base_url`` may be a list, or hosts separated by commas (``openai://h1:8000,h2:8000/MODEL``). Each
  request goes to the endpoint with the fewest requests in flight (least outstanding requests; ties go to
  the one that was sent fewer, then the first); a retry prefers another endpoint than the one that just
  failed. `sent` counts requests per endpoint.
"""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import math
import random
import threading
from typing import Any

from unireward.judges.base import Choices, Generated, Judge, Request


RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}  # transient; every other 4xx is the request's fault
MIN_BRANCH = 1e-6  # a walk does not follow a token whose probability (given the prefix so far) is smaller


class OpenAIJudge(Judge):
    default_batch_size = 64  # requests are concurrent: larger batches keep the server busy

    def __init__(self, base_url: str | list[str], model: str, api_key: str = "EMPTY", concurrency: int = 16,
                 timeout: float = 120.0, max_retries: int = 6, backoff: float = 0.5, top_logprobs: int = 20,
                 image_format: str = "JPEG", **judge_kwargs: Any):
        super().__init__(**judge_kwargs)
        self.endpoints = split_endpoints(base_url)
        self.base_url, self.model, self.api_key = self.endpoints[0], model, api_key
        self.concurrency, self.timeout, self.max_retries, self.backoff = concurrency, timeout, max_retries, backoff
        self.top_logprobs, self.image_format = top_logprobs, image_format.upper()
        self.name = f"openai:{','.join(self.endpoints)}/{model}"
        self.calls = 0  # HTTP requests sent, retries included
        self.sent = [0] * len(self.endpoints)  # requests sent per endpoint
        self.outstanding = [0] * len(self.endpoints)  # requests in flight per endpoint
        self._balance = threading.Lock()

    def _pick(self, avoid: int | None = None) -> int:
        """The endpoint with the fewest requests in flight (then the fewest sent), not `avoid` if others exist."""
        with self._balance:
            choices = [i for i in range(len(self.endpoints)) if i != avoid] or [0]
            i = min(choices, key=lambda k: (self.outstanding[k], self.sent[k], k))
            self.outstanding[i] += 1
            self.sent[i] += 1
            return i

    def _done(self, i: int) -> None:
        with self._balance:
            self.outstanding[i] -= 1

    # ------------------------------------------------------------------ message building
    def _image_part(self, img) -> dict:
        buf = io.BytesIO()
        img.save(buf, format=self.image_format, **({"quality": 95} if self.image_format == "JPEG" else {}))
        mime = "jpeg" if self.image_format == "JPEG" else self.image_format.lower()
        return {"type": "image_url",
                "image_url": {"url": f"data:image/{mime};base64,{base64.b64encode(buf.getvalue()).decode()}"}}

    def messages(self, req: Request, assistant_prefix: str = "") -> list[dict]:
        images = req.images + [f for v in req.videos for f in v]  # native video is sent as frames here
        content = [self._image_part(im) for im in images] + [{"type": "text", "text": req.text}]
        msgs: list[dict] = [{"role": "user", "content": content}]
        if req.system:
            msgs.insert(0, {"role": "system", "content": req.system})
        if req.answer_start + assistant_prefix:  # continued by the server (continue_final_message)
            msgs.append({"role": "assistant", "content": req.answer_start + assistant_prefix})
        return msgs

    # ------------------------------------------------------------------ HTTP
    async def _post(self, client, sem: asyncio.Semaphore, body: dict) -> dict:
        import httpx

        async with sem:
            failed: int | None = None
            for attempt in range(self.max_retries + 1):
                self.calls += 1
                i = self._pick(avoid=failed)
                url = self.endpoints[i]
                try:
                    r = await client.post(f"{url}/chat/completions", json=body)
                    if r.status_code < 400:
                        return r.json()
                    if r.status_code not in RETRY_STATUS or attempt == self.max_retries:
                        raise RuntimeError(f"server answered {r.status_code}: {_server_message(r)}")
                except (httpx.TimeoutException, httpx.TransportError) as e:
                    if attempt == self.max_retries:
                        raise RuntimeError(f"no answer from {url} after {attempt + 1} tries ({e})") from None
                finally:
                    self._done(i)
                failed = i
                await asyncio.sleep(self.backoff * 2 ** attempt * (0.5 + random.random()))
        raise AssertionError("unreachable")

    def _gather(self, make_coros) -> list[Any]:
        """Run coroutines concurrently; works from plain code and from inside a running event loop."""
        import httpx

        async def main():
            sem = asyncio.Semaphore(self.concurrency)
            headers = {"Authorization": f"Bearer {self.api_key}"}
            async with httpx.AsyncClient(timeout=self.timeout, headers=headers) as client:
                return await asyncio.gather(*make_coros(client, sem), return_exceptions=True)

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(main())
        box: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: box.setdefault("r", asyncio.run(main())))
        thread.start()
        thread.join()
        return box["r"]

    def _body(self, req: Request, prefix: str, **extra: Any) -> dict:
        body = {"model": self.model, "messages": self.messages(req, prefix), "temperature": 0.0, **extra}
        if req.answer_start + prefix:  # continue the assistant turn, not a new one (vLLM / SGLang extension)
            body.update(continue_final_message=True, add_generation_prompt=False)
        return body

    # ------------------------------------------------------------------ primitives
    def _generate(self, requests: list[Request], max_new_tokens: int) -> list[str]:
        scored = self.mode == "reason-logprob"  # ask for the tokens' log-probabilities: `reasoning_prob`

        async def one(client, sem, req):
            data = await self._post(client, sem, self._body(req, "", max_tokens=max_new_tokens,
                                                            **({"logprobs": True} if scored else {})))
            text = data["choices"][0]["message"]["content"] or ""
            content = (data["choices"][0].get("logprobs") or {}).get("content") if scored else None
            if not content or not "".join(t["token"] for t in content).startswith(text):
                return text  # no token probabilities, or tokens that do not spell the text (a stop token after
                # it is fine): no reasoning probability is claimed
            ends = itertools.accumulate(len(t["token"]) for t in content)
            return Generated.of(text, [(end, math.exp(t["logprob"])) for end, t in zip(ends, content)])

        results = self._gather(lambda c, s: [one(c, s, r) for r in requests])
        return _per_item(results)

    def _choice_probs(self, requests: list[Request], choices: Choices) -> list[dict[str, float]]:
        async def one(client, sem, req):
            async def top(prefix: str) -> list[tuple[str, float]]:
                data = await self._post(client, sem, self._body(req, prefix, max_tokens=1, logprobs=True,
                                                                top_logprobs=self.top_logprobs))
                content = (data["choices"][0].get("logprobs") or {}).get("content") or []
                if not content:
                    raise RuntimeError("the server returned no logprobs; does it support top_logprobs?")

                return [(t["token"], math.exp(t["logprob"])) for t in content[0]["top_logprobs"]]

            mass = await _walk(top, choices.prefix, dict(choices.options), choices)
            z = sum(mass.values())
            if z <= 0:
                raise ValueError(f"no answer option among the top {self.top_logprobs} tokens after "
                                 f"{choices.prefix!r}")
            return {k: v / z for k, v in mass.items()}

        results = self._gather(lambda c, s: [one(c, s, r) for r in requests])
        return _per_item(results)


def split_endpoints(base_url: str | list[str]) -> list[str]:
    """Endpoint URLs from a list, or from one URL whose host part lists several hosts separated by commas
    (``http://h1:8000,h2:8000/v1`` -> ``http://h1:8000/v1``, ``http://h2:8000/v1``)."""
    if isinstance(base_url, (list, tuple)):
        urls = [str(u).rstrip("/") for u in base_url]
    else:
        scheme, sep, rest = base_url.partition("://")
        hosts, slash, path = rest.partition("/")
        urls = [f"{scheme}{sep}{h}{slash}{path}".rstrip("/") for h in hosts.split(",")] if sep else [base_url]
    urls = [u for u in urls if u]
    if not urls or any("://" not in u or not u.split("://", 1)[1].split("/")[0] for u in urls):
        raise ValueError(f"base_url {base_url!r}: expected http(s)://HOST:PORT/v1, a list of them, or hosts "
                         "separated by commas")
    return urls


def _per_item(results: list[Any]) -> list[Any]:
    """Results with a failed request's exception in its place: that item alone fails, with the server's
    message, and nothing is sent again (an interrupt or cancellation still propagates)."""
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, Exception):
            raise r
    return results


def _server_message(r) -> str:
    """The error message of a server's answer: OpenAI/vLLM ``{"error": {"message"}}`` or ``{"message"}``,
    FastAPI ``{"detail"}``, else the body's start."""
    try:
        body = r.json()
    except ValueError:
        return r.text[:1000]
    if isinstance(body, dict):
        err = body.get("error")
        message = err.get("message") if isinstance(err, dict) else err
        message = message or body.get("message") or body.get("detail")
        if message:
            return str(message)[:1000]
    return r.text[:1000]


def _compatible(token: str, rest: str, continuation: str | None) -> str | None:
    """The remainder of an option after `token`, or None when the token leaves the option.

    continuation: for a numeral, the characters that would make it a longer number (see
    `Choices.continuation`); None for a phrase, which may be followed by anything.
    """
    if token and rest.startswith(token):
        return rest[len(token):]
    if token.startswith(rest) and (token != rest or not rest):
        after = token[len(rest):]
        if continuation is None or not after or after[0] not in continuation:
            return ""
    return None


async def _walk(top, prefix: str, remaining: dict[str, str], choices: Choices, depth: int = 0) -> dict[str, float]:
    """Unnormalised probability of each option (the product of its tokens' probabilities), token by token."""
    if depth > 32:
        raise ValueError("answer options are too long to read token by token")
    numeric = choices.numeric
    done = [k for k, rest in remaining.items() if rest == ""]
    if len(remaining) == 1 and (done or not numeric):
        return {next(iter(remaining)): 1.0}
    mass: dict[str, float] = {}
    branches: dict[str, tuple[float, dict[str, str]]] = {}
    for token, p in await top(prefix):
        nxt = {k: r for k, rest in remaining.items()
               if (r := _compatible(token, rest, choices.continuation(k) if numeric else None)) is not None}
        if len(nxt) == 1 and (not numeric or next(iter(nxt.values())) == ""):
            k = next(iter(nxt))
            mass[k] = mass.get(k, 0.0) + p
        elif nxt and p >= MIN_BRANCH:
            q, _ = branches.get(token, (0.0, nxt))
            branches[token] = (q + p, nxt)
    tokens = list(branches)
    below = await asyncio.gather(*(_walk(top, prefix + t, branches[t][1], choices, depth + 1) for t in tokens))
    for token, sub in zip(tokens, below):
        p = branches[token][0]
        for k, q in sub.items():
            mass[k] = mass.get(k, 0.0) + p * q
    return mass
