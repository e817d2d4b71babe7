"""RL reward functions over a unireward judge: TRL GRPO's signature, in-process or over HTTP.

    reward = PointwiseReward("CodeGoat24/UnifiedReward-qwen-7b")            # in-process judge (logprob mode)
    reward = PointwiseReward(url="http://127.0.0.1:8000")                   # against `unireward serve`
    GRPOTrainer(..., reward_funcs=[reward])                                 # or reward.as_async() for overlap
    reward(prompts, completions, image=[...])  ->  list[float | None]

Design choices a user will notice:
- Pointwise rewards are the judge's EXPECTED score (logprob mode: the score distribution over the numeral
  grid, averaged), normalised to [0, 1] by default (``normalize=False``: the template's native scale). A
  judge loaded here from a spec is put in logprob mode; a judge object passed in is used as it is (in
  generate mode its parsed score is a flat integer: the failure mode RL users report).
- `WinRateReward` is Pref-GRPO's reward: completions sharing a prompt form a group, every pair is judged
  (``both_orders`` judges each pair twice), and each completion's reward is its win rate
  (`unireward.rewards.winrate`). A prompt with a single completion gets None.
- A judgment that fails (unreadable media, unparseable answer) gives None, which TRL treats as "no reward
  for this sample" (NaN, left out of the mean), never a silent 0.
- Each reward works in-process (``judge=``: a `Judge` or a spec, loaded once, lazily) or over HTTP
  (``url=``: async client with retries and timeouts). Calls are synchronous; ``as_async()`` gives an
  ``async def`` twin that TRL gathers concurrently with other async rewards (HTTP requests overlap; an
  in-process judge runs in a worker thread).
- `WeightedReward` mixes rewards (ours and plain TRL-style callables, sync or async) with weights: the
  weighted sum over the components that gave a value, None only when none did.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from unireward.rewards.client import RewardClient, run_sync
from unireward.rewards.inputs import infer_task, media_for, text_of, to_media, to_ref
from unireward.rewards.winrate import pairs as group_pairs
from unireward.rewards.winrate import win_rates
from unireward.tasks import Task


class JudgeReward:
    """Shared plumbing: where the judge is (in-process or URL), which task, how items are built."""

    kind = "judge"

    def __init__(self, judge: Any = None, *, url: str | None = None, task: Task | str | None = None,
                 api_key: str | None = None, timeout: float = 180.0, max_retries: int = 5, name: str | None = None,
                 **judge_options: Any):
        if (judge is None) == (url is None):
            raise ValueError("give exactly one of judge= (a Judge or a spec to load) and url= (a unireward server)")
        self._judge, self._options = judge, judge_options
        self.client = RewardClient(url, api_key, timeout, max_retries) if url else None
        self.task = Task.parse(task) if task is not None else None
        self.__name__ = name or f"unireward_{self.kind}"

    @property
    def judge(self) -> Any:
        """The in-process judge, loaded on first use (logprob mode unless options say otherwise)."""
        if isinstance(self._judge, str):
            from unireward import load_judge

            self._judge = load_judge(self._judge, **{"mode": "logprob", **self._options})
        return self._judge

    def _task(self, completions: list[Any], kwargs: dict[str, Any]) -> Task:
        return self.task or infer_task(completions, kwargs)

    def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        if self.client is not None:
            return self.client_call(prompts, completions, kwargs)
        return self.local(prompts, completions, kwargs)

    def client_call(self, prompts: list[Any], completions: list[Any], kwargs: dict) -> list[float | None]:
        assert self.client is not None
        client = self.client

        async def go() -> list[float | None]:
            try:
                return await self.remote(prompts, completions, kwargs)
            finally:
                await client.aclose()

        return run_sync(go)

    def as_async(self) -> AsyncReward:
        return AsyncReward(self)

    def local(self, prompts: list[Any], completions: list[Any], kwargs: dict) -> list[float | None]:
        raise NotImplementedError

    async def remote(self, prompts: list[Any], completions: list[Any], kwargs: dict) -> list[float | None]:
        raise NotImplementedError


class AsyncReward:
    """An ``async def`` twin of a reward (TRL gathers async reward functions concurrently)."""

    def __init__(self, reward: JudgeReward):
        self.reward, self.__name__ = reward, reward.__name__

    async def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        r = self.reward
        if r.client is not None:
            return await r.remote(prompts, completions, kwargs)
        return await asyncio.to_thread(r.local, prompts, completions, kwargs)


# ---------------------------------------------------------------------- pointwise
class PointwiseReward(JudgeReward):
    """The judge's expected score of each completion (see the module docstring).

    VLM policies (understanding tasks): the completion's text is judged against the sample's image(s) or
    video (``image``/``images``/``video``/``videos`` columns). Generation policies: the completion is the
    generated image or video, judged against the prompt.
    """

    kind = "score"

    def __init__(self, judge: Any = None, *, normalize: bool = True, **options: Any):
        super().__init__(judge, **options)
        self.normalize = normalize

    def _items(self, prompts: list[Any], completions: list[Any], kwargs: dict, http: bool) -> list[dict]:
        task = self._task(completions, kwargs)
        items = []
        for k, (p, c) in enumerate(zip(prompts, completions)):
            item: dict[str, Any] = {"task": task.value, "prompt": text_of(p)}
            if task.is_generation:
                cand = to_media(c, task.modality)
                item["candidate"] = to_ref(cand, task.modality) if http else cand
            else:
                media = media_for(kwargs, k, task.modality)
                if media is None:
                    raise ValueError(f"completion {k}: {task.value} needs the sample's {task.modality} (an "
                                     f"'{task.modality}' or '{task.modality}s' column)")
                item["candidate"] = text_of(c)
                item["media"] = to_ref(media, task.modality) if http else media
            items.append(item)
        return items

    def _value(self, s: Any) -> float | None:
        value = getattr(s, "normalized" if self.normalize else "value", None) if not isinstance(s, dict) else \
            s.get("normalized" if self.normalize else "value")
        return None if value is None else float(value)

    def local(self, prompts: list[Any], completions: list[Any], kwargs: dict) -> list[float | None]:
        return [self._value(s) for s in self.judge.score_batch(self._items(prompts, completions, kwargs, False))]

    async def remote(self, prompts: list[Any], completions: list[Any], kwargs: dict) -> list[float | None]:
        assert self.client is not None
        return [self._value(s) for s in await self.client.score(self._items(prompts, completions, kwargs, True))]


# ---------------------------------------------------------------------- Pref-GRPO win rate
class WinRateReward(JudgeReward):
    """Pref-GRPO: each completion's win rate against the other completions of its prompt."""

    kind = "win_rate"

    def __init__(self, judge: Any = None, *, both_orders: bool = False, soft: bool = False, **options: Any):
        super().__init__(judge, **options)
        self.both_orders, self.soft = both_orders, soft

    @staticmethod
    def groups(prompts: list[Any]) -> list[list[int]]:
        """Indices of completions sharing a prompt (by its text and position of first appearance)."""
        by_key: dict[str, list[int]] = {}
        for k, p in enumerate(prompts):
            by_key.setdefault(repr(p) if not isinstance(p, str) else p, []).append(k)
        return list(by_key.values())

    def _candidates(self, task: Task, completions: list[Any], idx: list[int]) -> list[Any]:
        if task.is_generation:
            return [to_media(completions[k], task.modality) for k in idx]
        return [text_of(completions[k]) for k in idx]

    def local(self, prompts: list[Any], completions: list[Any], kwargs: dict) -> list[float | None]:
        task = self._task(completions, kwargs)
        out: list[float | None] = [None] * len(completions)
        jobs: list[tuple[list[int], list[tuple[int, int]]]] = []
        items: list[dict] = []
        for idx in (g for g in self.groups(prompts) if len(g) > 1):
            cands = self._candidates(task, completions, idx)
            media = None if task.is_generation else media_for(kwargs, idx[0], task.modality)
            order = group_pairs(len(idx), self.both_orders)
            jobs.append((idx, order))
            items += [{"task": task, "prompt": text_of(prompts[idx[0]]), "a": cands[i], "b": cands[j],
                       "media": media} for i, j in order]
        verdicts = iter(self.judge.compare_batch(items)) if items else iter(())
        for idx, order in jobs:
            judged = [(i, j, next(verdicts)) for i, j in order]
            for k, rate in zip(idx, win_rates(len(idx), judged, self.soft)):
                out[k] = rate
        return out

    async def remote(self, prompts: list[Any], completions: list[Any], kwargs: dict) -> list[float | None]:
        assert self.client is not None
        task = self._task(completions, kwargs)
        out: list[float | None] = [None] * len(completions)
        groups = [g for g in self.groups(prompts) if len(g) > 1]

        async def one(idx: list[int]) -> list[float]:
            cands = [to_ref(c, task.modality) if task.is_generation else c
                     for c in self._candidates(task, completions, idx)]
            media = None if task.is_generation else media_for(kwargs, idx[0], task.modality)
            answer = await self.client.group(task.value, text_of(prompts[idx[0]]), cands,
                                             None if media is None else to_ref(media, task.modality),
                                             self.both_orders, self.soft)
            return answer["win_rates"]

        for idx, rates in zip(groups, await asyncio.gather(*(one(g) for g in groups))):
            for k, rate in zip(idx, rates):
                out[k] = rate
        return out


# ---------------------------------------------------------------------- weighted mixes
class WeightedReward:
    """A weighted sum of rewards: ours, or any TRL-style callable ``f(prompts, completions, **kw)`` (sync
    or async). For each completion, the sum runs over the components that gave a value; None if none did."""

    def __init__(self, rewards: Sequence[tuple[Callable[..., Any], float]] | dict[Callable[..., Any], float],
                 name: str | None = None):
        pairs = list(rewards.items()) if isinstance(rewards, dict) else list(rewards)
        if not pairs:
            raise ValueError("WeightedReward needs at least one (reward, weight) pair")
        for k, (fn, w) in enumerate(pairs):
            if not callable(fn) or isinstance(w, bool) or not isinstance(w, (int, float)):
                raise TypeError(f"rewards[{k}]: expected (callable, number), got ({type(fn).__name__}, {w!r})")
        self.rewards = [(fn, float(w)) for fn, w in pairs]
        self.__name__ = name or "weighted(" + ",".join(_name(fn) for fn, _ in self.rewards) + ")"

    def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        return run_sync(lambda: self.acall(prompts, completions, **kwargs))

    def as_async(self) -> _AsyncWeighted:
        return _AsyncWeighted(self)

    async def acall(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        outputs = await asyncio.gather(*(_call(fn, prompts, completions, kwargs) for fn, _ in self.rewards))
        for (fn, _), out in zip(self.rewards, outputs):
            if len(out) != len(completions):
                raise ValueError(f"reward {_name(fn)} gave {len(out)} values for {len(completions)} completions")
        return [_mix([(out[k], w) for (_, w), out in zip(self.rewards, outputs)]) for k in range(len(completions))]


class _AsyncWeighted:
    def __init__(self, mix: WeightedReward):
        self.mix, self.__name__ = mix, mix.__name__

    async def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        return await self.mix.acall(prompts, completions, **kwargs)


async def _call(fn: Callable[..., Any], prompts: list[Any], completions: list[Any], kwargs: dict) -> list[Any]:
    if isinstance(fn, JudgeReward):
        fn = fn.as_async()
    if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__):
        return list(await fn(prompts=prompts, completions=completions, **kwargs))
    return list(await asyncio.to_thread(fn, prompts=prompts, completions=completions, **kwargs))


def _mix(values: list[tuple[float | None, float]]) -> float | None:
    given = [(float(v), w) for v, w in values if v is not None and v == v]  # None and NaN give nothing
    return sum(v * w for v, w in given) if given else None


def _name(fn: Any) -> str:
    return getattr(fn, "__name__", type(fn).__name__)
