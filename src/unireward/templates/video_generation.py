"""Video generation: a caption and the frames of one or two generated videos.

Frames are given as separate images (8 per video by default; for a pair, Video 1's frames come first).
Pairwise v1 answers "Video 1 is better" / "Video 2 is better" / "Both videos are equally good"; pointwise
v1 is VideoFeedback-style: five dimensions on 1-4, then ``Final Score:`` on 1-10. The 2.0 family scores
Alignment, Physics and Style (pointwise, APS) or relative Alignment/Coherence/Style shares (pairwise).
"""

from unireward.tasks import Form, Task
from unireward.templates.base import Template, alias, choices_text


T, PAIR, POINT = Task.VIDEO_GENERATION, Form.PAIR, Form.POINT

_PAIR_TEXT = (
    "Imagine you are an expert judge of AI-generated videos. You are given a text caption and the frames of "
    "two videos generated from it; the first half of the frames belong to Video 1, the second half to "
    "Video 2. Judge them on two criteria:\n"
    "1. Caption alignment: the objects, actions, attributes and relationships in the video should be as the "
    "caption describes.\n"
    "2. Overall video quality: clarity, smooth and natural motion, consistency over time and aesthetics.\n"
    "Choose the better video and conclude with exactly one of: {choices}\n"
    "Your task is as follows:\nText Caption: [{{prompt}}]"
)

FEEDBACK_DIMS = ("visual quality", "temporal consistency", "dynamic degree", "text-to-video alignment",
                 "factual consistency")

_POINT_TEXT = (
    "You are an expert judge of AI-generated videos. Given the frames of a video generated from a text "
    "prompt, rate it on five dimensions, each with a score from [1, 2, 3, 4] (1 = bad, 2 = average, "
    "3 = good, 4 = real or perfect):\n"
    "- visual quality: clarity, resolution, brightness and colour.\n"
    "- temporal consistency: objects and people stay consistent across frames.\n"
    "- dynamic degree: the amount of motion.\n"
    "- text-to-video alignment: the video shows what the prompt describes.\n"
    "- factual consistency: the content agrees with common sense and physics.\n"
    "Then give an overall score from {lo} to {hi} after 'Final Score:'. Answer in this form (the numbers are "
    "placeholders):\nvisual quality: 3\ntemporal consistency: 3\ndynamic degree: 3\n"
    "text-to-video alignment: 3\nfactual consistency: 3\nFinal Score: 6\n"
    "Text Prompt: [{prompt}]"
)

_APS_DIMS = ("Alignment", "Physics", "Style")
_APS_TEXT = (
    "You are given a text caption and the frames of a video generated from it. Rate the video on three axes, "
    "each from 1 to 5 (decimals allowed):\n"
    "- Alignment: how well the content matches the caption.\n"
    "- Physics: gravity, movement, collisions and interactions make physical sense.\n"
    "- Style: aesthetic quality, regardless of the caption.\n"
    "Answer exactly in this form:\nAlignment Score (1-5): X\nPhysics Score (1-5): Y\nStyle Score (1-5): Z\n"
    "Text Caption: [{prompt}]"
)

_PAIR_DIMS = ("Alignment", "Coherence", "Style")
_PAIR_SCORE_TEXT = (
    "You are given a text caption and the frames of two videos generated from it (Video 1's frames first, "
    "then Video 2's). For each of Alignment (match with the caption), Coherence (no glitches, stable over "
    "time) and Style (aesthetics), give the two videos relative scores in [0, 1] that sum to exactly 1.0; "
    "the better video gets more.\nAnswer exactly in this form:\n"
    "Alignment Score:\n Video 1: X\n Video 2: Y\nCoherence Score:\n Video 1: X\n Video 2: Y\n"
    "Style Score:\n Video 1: X\n Video 2: Y\n"
    "Text Caption: [{prompt}]"
)

_THINK_TEXT = (
    "You are given a text caption and the frames of two videos generated from it (Video 1's frames first, "
    "then Video 2's). Choose the evaluation dimensions that matter for this caption, score each video from 1 "
    "to 10 on every dimension, add up each video's total, and reason step by step inside <think> </think>. "
    "Then give your decision inside <answer> </answer> as exactly 'Video 1 is better' or "
    "'Video 2 is better'.\nText Caption: [{prompt}]"
)

_QWEN = {"A": "Video 1 is better", "B": "Video 2 is better", "tie": "Both videos are equally good"}
_LLAVA = {"A": "Video 1 is better than Video 2", "B": "Video 2 is better than Video 1",
          "tie": "Both videos are equally good"}


_V1_POINT = Template(T, POINT, "v1", _POINT_TEXT, "final_score", scale=(1, 10), dims=FEEDBACK_DIMS,
                     dim_scale=(1, 4), logprob_prefixes={"": "Final Score: "}, max_new_tokens=1024)

TEMPLATES = [
    Template(T, PAIR, "v1", _PAIR_TEXT.format(choices=choices_text(_QWEN)), "phrase", phrases=_QWEN,
             logprob_prefixes={"": ""}, max_new_tokens=1024),
    Template(T, PAIR, "v1-llava", _PAIR_TEXT.format(choices=choices_text(_LLAVA)), "phrase", phrases=_LLAVA,
             logprob_prefixes={"": ""}, max_new_tokens=1024),
    Template(T, PAIR, "2.0", _PAIR_SCORE_TEXT, "pair_scores", dims=_PAIR_DIMS, dim_scale=(0, 1),
             phrases={"A": "Video 1", "B": "Video 2"}, max_new_tokens=1024),
    Template(T, PAIR, "think", _THINK_TEXT, "think", phrases={k: _QWEN[k] for k in ("A", "B")},
             max_new_tokens=4096),
    _V1_POINT,
    alias(_V1_POINT, "v1-llava"),
    Template(T, POINT, "2.0", _APS_TEXT, "dim_scores", scale=(1, 5), dims=_APS_DIMS, dim_scale=(1, 5),
             logprob_prefixes={d: f"{d} Score (1-5): " for d in _APS_DIMS}, max_new_tokens=1024),
    alias(_V1_POINT, "think"),
]
