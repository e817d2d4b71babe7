"""Zoo entries that run their authors' code from the hub (``trust_remote_code``); loaded only on opt-in.

IXC-2.5-Reward (``internlm/internlm-xcomposer2d5-7b-reward``): InternLM-XComposer2.5 with a reward head, called
through its own ``get_scores(chats, images, hd_num=9)``, a chat being the question (user) and the answer
(assistant). Its code reads media from files, so images and video frames are written to a temporary folder
for the call. Not tested here: the architecture exists only as remote code, and no weights can be fetched.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unireward.judges.zoo.scorer import ScorerInput


class IXCReward:
    dims = ("reward",)

    def __init__(self, source: str, device: str, dtype: Any, local: bool = False, hd_num: int = 9):
        from transformers import AutoModel, AutoTokenizer

        self.model = AutoModel.from_pretrained(source, dtype=dtype, trust_remote_code=True).eval().to(device)
        self.model.tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=True)
        self.hd_num = hd_num

    def score(self, inputs: Sequence[ScorerInput]) -> list[dict[str, float]]:
        import torch

        chats = [[{"role": "user", "content": x.prompt}, {"role": "assistant", "content": x.text or ""}]
                 for x in inputs]
        with tempfile.TemporaryDirectory() as tmp:
            media = [self._files(Path(tmp), i, x) for i, x in enumerate(inputs)]
            with torch.inference_mode():
                scores = self.model.get_scores(chats, media, hd_num=self.hd_num)
        return [{"reward": float(s)} for s in scores]

    @staticmethod
    def _files(tmp: Path, i: int, x: ScorerInput) -> list[str]:
        paths = []
        for k, im in enumerate(x.images):
            paths.append(str(tmp / f"{i}-{k}.png"))
            im.save(paths[-1])
        return paths
