"""Image generation: a caption and one or two generated images.

Layouts, following the training prompts of each checkpoint family (upstream.md section 2.1), in our words:
- v1 / v1-llava pairwise: persona, two numbered criteria, the comparison instruction, the list of allowed
  conclusions (Qwen: "Image 1 is better."; LLaVA: "Image 1 is better than Image 2."), then the framing
  line "Your task is provided as follows:" and ``Text Caption: [...]``; no trailing newline.
- v1 pointwise (EvalMuse): the same criteria for one image, the ``element (type): value`` instruction and
  the 1-5 ``Final Score:`` (the DPO sift asks 1-10: `Template.with_scale`), framing line, caption. The
  trained answers are annotator means (3.3, 3.67): ``decimals=1``.
- 2.0 pointwise (ACS): three 1-5 axes as ``- X Score:`` bullets, a blank line, the answer block, a blank
  line, framing line, caption. 2.0 pairwise: the three dimensions, the sum-to-one rules, the answer
  block with a blank line between dimensions, framing line, caption.
- think: one instruction paragraph, ``Example output format:`` with a ``<think>`` block of per-dimension
  scores for both images and the totals, then ``<answer>``, a placeholder note, framing line, caption.
- think-qwen3vl: the strict-format prompt of the Think-qwen3vl checkpoints: the caption inline in
  corner brackets 「...」 inside a numbered procedure, a constraints list, the required output with one
  3-line block per dimension, and a closing note; no framing line at the end.
"""

from unireward.tasks import Form, Task
from unireward.templates.base import Template, alias


T, PAIR, POINT = Task.IMAGE_GENERATION, Form.PAIR, Form.POINT

_QWEN = {"A": "Image 1 is better", "B": "Image 2 is better", "tie": "Both images are equally good"}
_LLAVA = {"A": "Image 1 is better than Image 2", "B": "Image 2 is better than Image 1",
          "tie": "Both images are equally good"}
_THINK = {"A": "Image 1 is better", "B": "Image 2 is better"}


def _conclusions(phrases: dict[str, str]) -> str:
    quoted = [f'"{p}."' for p in phrases.values()]
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _pair_text(phrases: dict[str, str]) -> str:
    return (
        "You are given a text caption and two images generated from it. Evaluate and compare the two images "
        "on two key criteria:\n"
        "1. Alignment with the Caption: how faithfully each image shows the objects, their attributes and the "
        "relationships between them that the caption describes.\n"
        "2. Overall Image Quality: the visual quality of each image: sharpness, preserved detail, accurate "
        "colour and aesthetic appeal.\n"
        "Weigh both criteria and choose the image that matches the caption better while also looking better.\n"
        f"Give a clear conclusion such as {_conclusions(phrases)}\n"
        "Your task is provided as follows:\n"
        "Text Caption: [{prompt}]"
    )


_POINT_TEXT = (
    "You are given a text caption and an image generated from it. Evaluate the image on two key criteria:\n"
    "1. Alignment with the Caption: how faithfully the image shows the objects, their attributes and the "
    "relationships between them that the caption describes.\n"
    "2. Overall Image Quality: the visual quality of the image: sharpness, preserved detail, accurate colour "
    "and aesthetic appeal.\n"
    "List the key elements of the caption and check whether each appears in the image, in the format "
    "'element (type): value' (value=1 when it is generated, value=0 when it is not), then give a score from "
    "{lo} to {hi} after 'Final Score:'.\n"
    "Your task is provided as follows:\n"
    "Text Caption: [{prompt}]"
)

_DIMS = ("Alignment", "Coherence", "Style")

_ACS_TEXT = (
    "You are shown a generated image and the text caption it was made from. Assess the image against the "
    "caption along several dimensions. In particular:\n"
    "Rate the image as a whole on each of these axes (each from 1 to 5):\n"
    "- Alignment Score: how closely the content of the image matches the caption.\n"
    "- Coherence Score: how internally consistent the image is (no visual glitches, distorted objects and "
    "the like).\n"
    "- Style Score: how aesthetically pleasing the image is, whatever the caption says.\n\n"
    "Write your evaluation in exactly this format:\n\n"
    "Alignment Score (1-5): X\n"
    "Coherence Score (1-5): Y\n"
    "Style Score (1-5): Z\n\n"
    "Your task is provided as follows:\n"
    "Text Caption: [{prompt}]"
)

_PAIR_SCORE_TEXT = (
    "You are shown two generated images (Image 1 and Image 2) and the text caption they share. Compare the "
    "two images on three dimensions:\n\n"
    "- Alignment Score: how closely the content of each image matches the caption.\n"
    "- Coherence Score: how logically and visually consistent each image is (no visual glitches, distorted "
    "objects and the like).\n"
    "- Style Score: how aesthetically pleasing each image is, whatever the caption says.\n\n"
    "For each dimension, give Image 1 and Image 2 relative scores such that:\n"
    "- each score is a float from 0 to 1 (inclusive);\n"
    "- the two scores of a dimension add up to exactly 1.0;\n"
    "- a higher score means that image is better on that dimension *compared with the other*.\n\n"
    "The scores measure quality relative to each other, not absolute quality.\n\n"
    "Give your evaluation in the format below:\n\n"
    "Alignment Score:\n Image 1: X\n Image 2: Y\n\n"
    "Coherence Score:\n Image 1: X\n Image 2: Y\n\n"
    "Style Score:\n Image 1: X\n Image 2: Y\n\n"
    "Your task is provided as follows:\n"
    "Text Caption: [{prompt}]"
)

_THINK_TEXT = (
    "You are given a caption and two images generated from it: analyse both images in detail. Evaluate them "
    "on several dimensions, for example semantic consistency (how well the image content matches the "
    "caption), aesthetics (composition, use of colour, artistic expression), authenticity (realism and fine "
    "detail) and any other dimension you find relevant. For each dimension, score both images from 1 to 10 "
    "(e.g. Image 1: 8/10, Image 2: 6/10) with a short justification. Add up the dimension scores of each "
    "image into a total. Reason step by step and put all of your reasoning inside <think> and </think> "
    "tags. Then, inside the <answer> tag, write exactly one of these strings: 'Image 1 is better' or "
    "'Image 2 is better', according to the totals. Write nothing else inside <answer>.\n\n"
    "Example output format:\n"
    "<think>\n"
    "1. Semantic consistency: Image 1 (9/10) - ...; Image 2 (7/10) - ...\n"
    "2. Aesthetics: Image 1 (8/10) - ...; Image 2 (8/10) - ...\n"
    "3. Authenticity: Image 1 (8/10) - ...; Image 2 (5/10) - ...\n"
    "[Additional dimensions if any]: Image 1 (6/10) - ...; Image 2 (8/10) - ...\n"
    "Total score:\n"
    "Image 1: 9+8+8+6=31\n"
    "Image 2: 7+8+5+8=28\n"
    "</think>\n"
    "<answer>Image 1 is better</answer>\n"
    "**Note: the scores and the answer in this example are placeholders that only show the format; base "
    "your own evaluation on the two given images.**\n\n"
    "Your task is provided as follows:\n"
    "Text Caption: [{prompt}]"
)

_QWEN3VL_TEXT = (
    "You are an objective, precise judge comparing the quality of two images. You are given a text caption "
    "and two images generated from it. Examine both images closely and decide which one is better.\n\n"
    "Evaluation procedure:\n\n"
    "1. The caption the images were generated from is: 「{prompt}」. Evaluate both images on these core "
    "dimensions:\n"
    "- Semantic consistency (how well the image content matches the caption)\n"
    "- Aesthetics (composition, use of colour, artistic expression)\n"
    "- Authenticity (realism and fine detail)\n\n"
    "2. You may add at most two further dimensions when they matter for this caption or these images (e.g. "
    "creativity, spatial layout, fine detail). When none matter, keep only the three core dimensions.\n\n"
    "3. For every dimension:\n"
    "- Score Image 1 and Image 2 from 1 to 10\n"
    "- Justify each score briefly (2 to 5 short sentences)\n"
    "- Write it as exactly this block, with these line breaks and indentation:\n"
    "    Dimension name:\n"
    "        Image 1 (x/10) - rationale;\n"
    "        Image 2 (y/10) - rationale\n\n"
    "4. After the last dimension, add up each image's total and show the sum, exactly like this:\n"
    "    Total score:\n"
    "    Image 1: x+x+x=total\n"
    "    Image 2: y+y+y=total\n\n"
    "5. Put all reasoning and scoring strictly inside <think> and </think> tags.\n\n"
    "6. After </think>, give the final judgment strictly inside <answer> and </answer> tags, containing only "
    "one of:\n"
    "- Image 1 is better\n"
    "- Image 2 is better\n\n"
    "Constraints:\n"
    "- Keep exactly the line breaks, indentation and layout of the example below.\n"
    "- One dimension per 3-line block; never merge dimensions onto one line.\n"
    "- No Markdown: no bullet points, bold text or headings.\n"
    "- Write nothing outside <think> and <answer>.\n"
    "- The <answer> tag holds only the final string, with no other words.\n\n"
    "Required output format:\n\n"
    "<think>\n"
    "1. Semantic consistency:\n    Image 1 (9/10) - ...;\n    Image 2 (7/10) - ...\n"
    "2. Aesthetics:\n    Image 1 (8/10) - ...;\n    Image 2 (8/10) - ...\n"
    "3. Authenticity:\n    Image 1 (8/10) - ...;\n    Image 2 (5/10) - ...\n"
    "[Additional dimension if any]:\n    Image 1 (7/10) - ...;\n    Image 2 (8/10) - ...\n"
    "[Additional dimension if any]:\n    Image 1 (6/10) - ...;\n    Image 2 (7/10) - ...\n"
    "Total score:\n"
    "Image 1: 9+8+8+7+6=38\n"
    "Image 2: 7+8+5+8+7=35\n"
    "</think>\n"
    "<answer>Image 1 is better</answer>\n\n"
    "Note: this example only shows the exact format (line breaks, indentation, symbols and style). Follow "
    "it exactly, but base your evaluation on the given caption and images.\n"
)

_V1_POINT = Template(T, POINT, "v1", _POINT_TEXT, "final_score", scale=(1, 5),
                     logprob_prefixes={"": "Final Score: "}, max_new_tokens=512, decimals=1)

TEMPLATES = [
    Template(T, PAIR, "v1", _pair_text(_QWEN), "phrase", phrases=_QWEN, logprob_prefixes={"": ""},
             max_new_tokens=512),
    Template(T, PAIR, "v1-llava", _pair_text(_LLAVA), "phrase", phrases=_LLAVA, logprob_prefixes={"": ""},
             max_new_tokens=512),
    Template(T, PAIR, "2.0", _PAIR_SCORE_TEXT, "pair_scores", dims=_DIMS, dim_scale=(0, 1),
             phrases={"A": "Image 1", "B": "Image 2"}, max_new_tokens=1024, decimals=2),
    Template(T, PAIR, "think", _THINK_TEXT, "think", phrases=_THINK, max_new_tokens=4096),
    Template(T, PAIR, "think-qwen3vl", _QWEN3VL_TEXT, "think", phrases=_THINK, max_new_tokens=4096),
    _V1_POINT,
    alias(_V1_POINT, "v1-llava"),
    Template(T, POINT, "2.0", _ACS_TEXT, "dim_scores", scale=(1, 5), dims=_DIMS, dim_scale=(1, 5),
             max_new_tokens=1024, decimals=2),
    alias(_V1_POINT, "think"),
    alias(_V1_POINT, "think-qwen3vl"),
]
