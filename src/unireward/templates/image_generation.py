"""Image generation: a caption and one or two generated images.

Pairwise v1/v1-llava answers name the better image or a tie; pointwise v1 (EvalMuse-style) lists the
caption's elements as ``element (type): 0|1`` and ends with ``Final Score:`` on 1-5 (the DPO sift asks
1-10: use ``Template.with_scale``). The 2.0 family scores Alignment, Coherence and Style as floats.
"""

from unireward.tasks import Form, Task
from unireward.templates.base import Template, alias, choices_text


T, PAIR, POINT = Task.IMAGE_GENERATION, Form.PAIR, Form.POINT

_CRITERIA = (
    "1. Alignment with the caption: the objects, their attributes and the relationships between them should "
    "be as the caption describes.\n"
    "2. Overall image quality: clarity, detail, colour accuracy and aesthetic appeal.\n"
)

_PAIR_TEXT = (
    "You are given a text caption and two images generated from it (Image 1 and Image 2). "
    "Judge them on two criteria:\n" + _CRITERIA + "Compare the two images and choose the one that matches the "
    "caption better while also having better visual quality. Conclude with exactly one of: {choices}\n"
    "Text Caption: [{{prompt}}]"
)

_POINT_TEXT = (
    "You are given a text caption and an image generated from it. Judge the image on two criteria:\n"
    + _CRITERIA
    + "First extract the key elements of the caption and state for each whether the image shows it, one per "
    "line in the form 'element (type): value' (1 = generated, 0 = not generated). Then give a score from {lo} "
    "to {hi} after 'Final Score:'.\nText Caption: [{prompt}]"
)

_DIMS = ("Alignment", "Coherence", "Style")

_ACS_TEXT = (
    "You are given a text caption and an image generated from it. Rate the image on three axes, each from 1 "
    "to 5 (decimals allowed):\n"
    "- Alignment: how well the content matches the caption.\n"
    "- Coherence: free of glitches, distortions and artefacts.\n"
    "- Style: aesthetic quality, regardless of the caption.\n"
    "Answer exactly in this form:\nAlignment Score (1-5): X\nCoherence Score (1-5): Y\nStyle Score (1-5): Z\n"
    "Text Caption: [{prompt}]"
)

_PAIR_SCORE_TEXT = (
    "You are given a text caption and two images generated from it (Image 1 and Image 2). For each of "
    "Alignment (match with the caption), Coherence (no glitches or distortions) and Style (aesthetics), give "
    "the two images relative scores in [0, 1] that sum to exactly 1.0; the better image gets more.\n"
    "Answer exactly in this form:\n"
    "Alignment Score:\n Image 1: X\n Image 2: Y\nCoherence Score:\n Image 1: X\n Image 2: Y\n"
    "Style Score:\n Image 1: X\n Image 2: Y\n"
    "Text Caption: [{prompt}]"
)

_THINK_TEXT = (
    "You are given a text caption and two images generated from it (Image 1 and Image 2). Choose the "
    "evaluation dimensions that matter for this caption, score each image from 1 to 10 on every dimension, "
    "add up each image's total, and reason step by step inside <think> </think>. Then give your decision "
    "inside <answer> </answer> as exactly 'Image 1 is better' or 'Image 2 is better'.\n"
    "Text Caption: [{prompt}]"
)

_QWEN = {"A": "Image 1 is better", "B": "Image 2 is better", "tie": "Both images are equally good"}
_LLAVA = {"A": "Image 1 is better than Image 2", "B": "Image 2 is better than Image 1",
          "tie": "Both images are equally good"}


_V1_POINT = Template(T, POINT, "v1", _POINT_TEXT, "final_score", scale=(1, 5),
                     logprob_prefixes={"": "Final Score: "}, max_new_tokens=512)

TEMPLATES = [
    Template(T, PAIR, "v1", _PAIR_TEXT.format(choices=choices_text(_QWEN)), "phrase", phrases=_QWEN,
             logprob_prefixes={"": ""}, max_new_tokens=512),
    Template(T, PAIR, "v1-llava", _PAIR_TEXT.format(choices=choices_text(_LLAVA)), "phrase", phrases=_LLAVA,
             logprob_prefixes={"": ""}, max_new_tokens=512),
    Template(T, PAIR, "2.0", _PAIR_SCORE_TEXT, "pair_scores", dims=_DIMS, dim_scale=(0, 1),
             phrases={"A": "Image 1", "B": "Image 2"}, max_new_tokens=1024),
    Template(T, PAIR, "think", _THINK_TEXT, "think", phrases={k: _QWEN[k] for k in ("A", "B")},
             max_new_tokens=4096),
    _V1_POINT,
    alias(_V1_POINT, "v1-llava"),
    Template(T, POINT, "2.0", _ACS_TEXT, "dim_scores", scale=(1, 5), dims=_DIMS, dim_scale=(1, 5),
             logprob_prefixes={d: f"{d} Score (1-5): " for d in _DIMS}, max_new_tokens=1024),
    alias(_V1_POINT, "think"),
]
