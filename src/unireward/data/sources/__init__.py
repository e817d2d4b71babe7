"""The public sources of the unified preference dataset, one adapter module each.

`SOURCES` is a lazy `Registry` (the shape `unireward.bench.sources.BENCHMARKS` shares): a name maps to
``"module:Class"`` and the module is imported only when that source is converted, so listing sources is instant
and a broken optional dependency affects only its own source. The readers, errors and field checks the
adapters share are in `unireward.data.sources.common`.
"""

from __future__ import annotations

from unireward.data.sources.common import Adapter, Entry, Registry


_M = "unireward.data.sources."
SOURCES = Registry("source", [
    # image generation
    Entry("hpd", _M + "hpd:HPD", "Rapidata 700k Human Preference Dataset (parquet): vote-count pairs"),
    Entry("hpdv2", _M + "hpdv2:HPDv2", "HPSv2 HPDv2 (train.json pairs, test.json rankings, images)"),
    Entry("evalmuse", _M + "evalmuse:EvalMuse", "EvalMuse-40K (train_list.json + images): scores and pairs"),
    Entry("oip", _M + "oip:OIP", "Open Image Preferences v1 binarized (parquet): chosen/rejected"),
    Entry("pickapic", _M + "pickapic:PickAPic", "Pick-a-Pic v2 (parquet, jpg bytes): label_0/label_1 pairs"),
    # image understanding
    Entry("llava_critic", _M + "llava_critic:LLaVACritic", "LLaVA-Critic-113k (parquet): pairwise and pointwise"),
    # video generation
    Entry("videodpo", _M + "videodpo:VideoDPO", "VideoDPO (metadata.json + pair.json + clips)"),
    Entry("lift_hra", _M + "lift_hra:LiFTHRA", "LiFT-HRA (JSON + videos): Good/Normal/Bad per dimension"),
    Entry("videofeedback", _M + "videofeedback:VideoFeedback", "VideoFeedback (parquet/JSON + frames): 5 dims"),
    # video understanding
    Entry("sharegptvideo", _M + "sharegptvideo:ShareGPTVideo", "ShareGPTVideo DPO 17k (JSONL + frame folders)"),
])


def list_sources() -> list[str]:
    return list(SOURCES)


def get_adapter(name: str) -> Adapter:
    """A fresh adapter for source `name`; an unknown name raises `UnknownNameError` listing the valid ones."""
    return SOURCES[name].load()()
