"""`CachedJudge`: answers from the store when it can, and asks again for a cached answer that lacks what the
run's filter needs (the reasoning's probability)."""

from __future__ import annotations

from unireward.construct.items import Candidate, PromptItem
from unireward.construct.judging import CachedJudge, PromptContext
from unireward.construct.store import Store
from unireward.tasks import Verdict


class Counting:
    """A hand-made judge (the thing under test is the cache in front of it): the verdict it was built with."""

    name, family, mode = "counting", "v1", "reason-logprob"

    def __init__(self, verdict: Verdict):
        self.verdict, self.asked = verdict, 0

    def compare_batch(self, items):
        self.asked += len(items)
        return [self.verdict for _ in items]


def test_a_cached_answer_without_the_reasoning_probability_is_asked_again_only_when_needed(tmp_path):
    ctx = PromptContext.make(PromptItem("p0", "What is shown?", 0),
                             [Candidate(0, "a fox", hash="h0"), Candidate(1, "a car", hash="h1")])
    store = Store(tmp_path / "store")
    before = Counting(Verdict("A", prob_a=0.9))  # a store written before judges reported reasoning_prob
    assert CachedJudge(before, store, "image_understanding").compare_fn(ctx)([(0, 1)]) == [before.verdict]
    now = Counting(Verdict("A", prob_a=0.9, reasoning_prob=0.7))
    plain = CachedJudge(now, store, "image_understanding")
    assert plain.compare_fn(ctx)([(0, 1)])[0].reasoning_prob is None and now.asked == 0  # from the store
    needy = CachedJudge(now, store, "image_understanding", need_reasoning_prob=True)
    assert needy.compare_fn(ctx)([(0, 1)])[0].reasoning_prob == 0.7 and now.asked == 1  # asked again, stored
    again = CachedJudge(now, store, "image_understanding", need_reasoning_prob=True)
    assert again.compare_fn(ctx)([(0, 1)])[0].reasoning_prob == 0.7 and now.asked == 1 and again.hits == 1
    failed = Counting(Verdict(None, text="I cannot tell."))  # an unparseable answer is cached too
    store2 = Store(tmp_path / "store2")
    CachedJudge(failed, store2, "image_understanding").compare_fn(ctx)([(0, 1)])
    CachedJudge(failed, store2, "image_understanding", need_reasoning_prob=True).compare_fn(ctx)([(0, 1)])
    assert failed.asked == 1  # a failed answer has no reasoning to be sure of: not asked again
