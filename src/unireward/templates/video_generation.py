"""Video generation: a caption and the frames of one or two generated videos.

Frames are given as separate images (8 per video by default; for a pair, Video 1's frames come first).
Layouts, following the training prompts of each checkpoint family (upstream.md section 2.3), in our words:
- v1 pairwise (Qwen): intro, two numbered factors and two closing paragraphs, each followed by a blank
  line, the conclusions ('Video 1 is better,' ...), a blank line, the framing line "Your task is as
  follows:" and ``Text Caption: [...]`` with a trailing newline.
- v1-llava pairwise: the image-pair layout (two criteria, "Video 1 is better than Video 2." ...), the
  framing line "Your task is provided as follows:", the caption, no trailing newline.
- v1 pointwise (VideoFeedback, shared by v1 and v1-llava): five ``(n)`` dimensions on 1-4, the meaning of
  each rating, the 1-10 ``Final Score:`` request, an example answer (dimension lines then Final Score), a
  blank line, the note that its numbers are placeholders, and the framing line with ``Text Prompt: [...]``
  on the same line. The answer writes the dimension lines first, so logprob mode is not offered.
- 2.0 pointwise (APS): three 1-5 axes (Alignment, Physics, Style) read on **16 frames** (``num_frames=16``);
  2.0 pairwise: relative Alignment/Coherence/Style shares on 8+8 frames.
- think / think-qwen3vl: as for image generation, with temporal coherence as the second core dimension;
  the qwen3vl prompt says which half of the frames belongs to which video.
"""

from unireward.tasks import Form, Task
from unireward.templates.base import STRICT_THINK_INSTRUCTIONS, Template, alias


T, PAIR, POINT = Task.VIDEO_GENERATION, Form.PAIR, Form.POINT

_QWEN = {"A": "Video 1 is better", "B": "Video 2 is better", "tie": "Both videos are equally good"}
_LLAVA = {"A": "Video 1 is better than Video 2", "B": "Video 2 is better than Video 1",
          "tie": "Both videos are equally good"}
_THINK = {"A": "Video 1 is better", "B": "Video 2 is better"}

_PAIR_TEXT = (
    "Imagine you are an expert judge of AI-generated videos. You are given a text caption and two videos "
    "generated from it. Assess and compare the videos on the following two main factors:\n\n"
    "1. Caption Alignment: how closely each video matches the caption: the objects shown, their "
    "relationships and the attributes the caption describes.\n\n"
    "2. Overall Video Quality: the visual appeal of each video: clarity, level of detail, colour accuracy "
    "and how pleasing it looks.\n\n"
    "Using these factors, compare the two videos and decide which one reflects the caption better and looks "
    "better.\n\n"
    "State your final judgment, for example 'Video 1 is better,' 'Video 2 is better,' or 'Both videos are "
    "equally good.'\n\n"
    "Your task is as follows:\n"
    "Text Caption: [{prompt}]\n"
)

_LLAVA_PAIR_TEXT = (
    "Suppose you are an expert judge of the quality of AI-generated videos. You are given a text caption and "
    "the frames of two videos generated from it. Evaluate and compare the two videos on two key criteria:\n"
    "1. Alignment with the Caption: how faithfully each video shows the objects, their attributes and the "
    "relationships between them that the caption describes.\n"
    "2. Overall Video Quality: the visual quality of each video: clarity, preserved detail, accurate colour "
    "and aesthetic appeal.\n"
    "Weigh both criteria and choose the video that matches the caption better while also looking better.\n"
    'Give a clear conclusion such as "Video 1 is better than Video 2.", "Video 2 is better than Video 1." '
    'and "Both videos are equally good."\n'
    "Your task is provided as follows:\n"
    "Text Caption: [{prompt}]"
)

FEEDBACK_DIMS = ("visual quality", "temporal consistency", "dynamic degree", "text-to-video alignment",
                 "factual consistency")

_POINT_TEXT = (
    "Suppose you are an expert judge of the quality of AI-generated videos: watch the frames of the given "
    "video and read the text prompt it was generated from.\n"
    "Then score it on 5 dimensions:\n"
    "(1) visual quality: how clear, sharp, bright and well-coloured the video is\n"
    "(2) temporal consistency, how consistent objects and people stay across the video\n"
    "(3) dynamic degree, how much the content moves and changes\n"
    "(4) text-to-video alignment, how well the video content matches the text prompt\n"
    "(5) factual consistency, how well the video content agrees with common sense and known facts\n\n"
    "For each dimension, output a number from [1,2,3,4],\n"
    "where '1' stands for 'Bad', '2' for 'Average', '3' for 'Good',\n"
    "and '4' for 'Real' or 'Perfect' (the video could pass for a real one)\n"
    "Finally, based on the 5 dimensions above, give a score from {lo} to {hi} after 'Final Score:'\n"
    "An example answer:\n"
    "visual quality: 4\n"
    "temporal consistency: 4\n"
    "dynamic degree: 3\n"
    "text-to-video alignment: 1\n"
    "factual consistency: 2\n"
    "Final Score: 6\n\n"
    "**Note: the scores in the example above are placeholders that only show the format; base your own "
    "evaluation on the given video.**\n"
    "Your task is provided as follows: Text Prompt: [{prompt}]"
)

_APS_DIMS = ("Alignment", "Physics", "Style")
_APS_TEXT = (
    "You are shown a generated video and the text caption it was made from. Assess the video against the "
    "caption along several dimensions. In particular:\n"
    "Rate the video as a whole on each of these axes (each from 1 to 5):\n"
    "- Alignment Score: how closely the content of the video matches the caption.\n"
    "- Physics Score: how well gravity, movements, collisions and interactions make physical sense.\n"
    "- Style Score: how visually appealing the video is, whatever the caption says.\n\n"
    "Write your evaluation in exactly this format:\n\n"
    "Alignment Score (1-5): X\n"
    "Physics Score (1-5): Y\n"
    "Style Score (1-5): Z\n\n"
    "Your task is provided as follows:\n"
    "Text Caption: [{prompt}]"
)

_PAIR_DIMS = ("Alignment", "Coherence", "Style")
_PAIR_SCORE_TEXT = (
    "You are shown two generated videos (Video 1 and Video 2) and the text caption they share. Compare the "
    "two videos on three dimensions:\n\n"
    "- Alignment Score: how closely the content of each video matches the caption.\n"
    "- Coherence Score: how logically and visually consistent each video is (no visual glitches, distorted "
    "objects and the like).\n"
    "- Style Score: how aesthetically pleasing each video is, whatever the caption says.\n\n"
    "For each dimension, give Video 1 and Video 2 relative scores such that:\n"
    "- each score is a float from 0 to 1 (inclusive);\n"
    "- the two scores of a dimension add up to exactly 1.0;\n"
    "- a higher score means that video is better on that dimension *compared with the other*.\n\n"
    "The scores measure quality relative to each other, not absolute quality.\n\n"
    "Give your evaluation in the format below:\n\n"
    "Alignment Score:\n Video 1: X\n Video 2: Y\n\n"
    "Coherence Score:\n Video 1: X\n Video 2: Y\n\n"
    "Style Score:\n Video 1: X\n Video 2: Y\n\n"
    "Your task is provided as follows:\n"
    "Text Caption: [{prompt}]"
)

_THINK_TEXT = (
    "You are given a caption and two videos generated from it: analyse both videos in detail. Evaluate them "
    "on several dimensions, for example semantic consistency (how well the video content matches the "
    "caption), temporal coherence (smooth, logical motion from frame to frame), authenticity (realism and "
    "fine detail) and any other dimension you find relevant. For each dimension, score both videos from 1 "
    "to 10 (e.g. Video 1: 8/10, Video 2: 6/10) with a short justification. Add up the dimension scores of "
    "each video into a total. Reason step by step and put all of your reasoning inside <think> and </think> "
    "tags. Then, inside the <answer> tag, write exactly one of these strings: 'Video 1 is better' or "
    "'Video 2 is better', according to the totals. Write nothing else inside <answer>.\n\n"
    "Example output format:\n"
    "<think>\n"
    "1. Semantic consistency: Video 1 (9/10) - ...; Video 2 (7/10) - ...\n"
    "2. Temporal coherence: Video 1 (8/10) - ...; Video 2 (6/10) - ...\n"
    "3. Authenticity: Video 1 (7/10) - ...; Video 2 (5/10) - ...\n"
    "[Additional dimensions if any]: Video 1 (6/10) - ...; Video 2 (8/10) - ...\n"
    "Total score:\n"
    "Video 1: 9+8+7+6=30\n"
    "Video 2: 7+6+5+8=26\n"
    "</think>\n"
    "<answer>Video 1 is better</answer>\n"
    "**Note: the scores and the answer in this example are placeholders that only show the format; base "
    "your own evaluation on the two given videos.**\n\n"
    "Your task is provided as follows:\n"
    "Text Caption: [{prompt}]"
)

_QWEN3VL_TEXT = (
    "You are an objective, precise judge comparing the quality of two videos. You are given a text caption "
    "and a sequence of consecutive frames taken from two videos generated from it. The first half of the "
    "frames belongs to Video 1, the second half to Video 2. Analyse the two videos carefully and decide "
    "which one is better.\n\n"
    + STRICT_THINK_INSTRUCTIONS.format(item="Video")
    + "Evaluation procedure:\n\n"
    "1. The caption the videos were generated from is: 「{prompt}」. The frames show two candidate videos:\n"
    "- First half: Video 1\n"
    "- Second half: Video 2\n\n"
    "2. Evaluate the two videos on these core dimensions:\n"
    "- Semantic consistency (how well the video content matches the caption)\n"
    "- Temporal coherence (smooth, logical motion from frame to frame)\n"
    "- Authenticity (realism and fine detail)\n\n"
    "3. You may add at most two further dimensions when they clearly matter (e.g. camera stability, "
    "consistent lighting, creativity). When none do, keep only the three core dimensions.\n\n"
    "4. For every dimension:\n"
    "- Score Video 1 and Video 2 from 1 to 10.\n"
    "- Justify each score briefly (2 to 5 short sentences).\n"
    "- Write it as exactly this 3-line block, with its numbering, line breaks and indentation:\n"
    "    N. Dimension name:\n"
    "        Video 1 (x/10) - rationale;\n"
    "        Video 2 (y/10) - rationale\n\n"
    "5. After the last dimension, add up each video's total and show the sum, exactly like this:\n"
    "    Total score:\n"
    "    Video 1: x+x+x(+...)=total\n"
    "    Video 2: y+y+y(+...)=total\n\n"
    "6. All reasoning, analysis, scores and totals go strictly inside <think> and </think>; nothing about "
    "reasoning or scores may appear outside <think>.\n\n"
    "Required output format (follow it exactly, line breaks and indentation included):\n\n"
    "<think>\n"
    "1. Semantic consistency:\n    Video 1 (9/10) - ...;\n    Video 2 (7/10) - ...\n"
    "2. Temporal coherence:\n    Video 1 (8/10) - ...;\n    Video 2 (6/10) - ...\n"
    "3. Authenticity:\n    Video 1 (7/10) - ...;\n    Video 2 (5/10) - ...\n"
    "[Additional dimension if any]:\n    Video 1 (8/10) - ...;\n    Video 2 (6/10) - ...\n"
    "[Additional dimension if any]:\n    Video 1 (7/10) - ...;\n    Video 2 (7/10) - ...\n"
    "Total score:\n"
    "Video 1: 9+8+7+8+7=39\n"
    "Video 2: 7+6+5+6+7=31\n"
    "</think>\n"
    "<answer>Video 1 is better</answer>\n\n"
    "Note: this example only shows the exact format (numbering, line breaks, indentation and style). Follow "
    "it exactly, but base your evaluation on the given caption and the two videos (the frames split into two "
    "halves).\n"
)

_V1_POINT = Template(T, POINT, "v1", _POINT_TEXT, "final_score", scale=(1, 10), dims=FEEDBACK_DIMS,
                     dim_scale=(1, 4), max_new_tokens=1024, decimals=1)

TEMPLATES = [
    Template(T, PAIR, "v1", _PAIR_TEXT, "phrase", phrases=_QWEN, logprob_prefixes={"": ""}, max_new_tokens=1024),
    Template(T, PAIR, "v1-llava", _LLAVA_PAIR_TEXT, "phrase", phrases=_LLAVA, logprob_prefixes={"": ""},
             max_new_tokens=1024),
    Template(T, PAIR, "2.0", _PAIR_SCORE_TEXT, "pair_scores", dims=_PAIR_DIMS, dim_scale=(0, 1),
             phrases={"A": "Video 1", "B": "Video 2"}, max_new_tokens=1024, decimals=2),
    Template(T, PAIR, "think", _THINK_TEXT, "think", phrases=_THINK, max_new_tokens=4096),
    Template(T, PAIR, "think-qwen3vl", _QWEN3VL_TEXT, "think", phrases=_THINK, max_new_tokens=4096),
    _V1_POINT,
    alias(_V1_POINT, "v1-llava"),
    Template(T, POINT, "2.0", _APS_TEXT, "dim_scores", scale=(1, 5), dims=_APS_DIMS, dim_scale=(1, 5),
             max_new_tokens=1024, decimals=2, num_frames=16),
    alias(_V1_POINT, "think"),
    alias(_V1_POINT, "think-qwen3vl"),
]
