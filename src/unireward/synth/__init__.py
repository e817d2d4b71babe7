"""A procedural four-task world with an exact oracle: data for tests, the demo, and CPU-scale training.

>>> from unireward.synth import build_dataset, Oracle, vocabulary_corpus
>>> build_dataset("data/synth", {"train": 500, "val": 50, "test": 100}, seed=0)   # records + media
>>> Oracle().score_image("a large red circle at the top left", "img.png")       # (1.0, {"large (size)": 1, ...})

Modules: `world` (the symbolic world and its constants), `render` (pixels), `perceive` (pixels back to
symbols), `grammar` (captions, questions, answers), `semantics` (exact labels and scores), `generate`
(seeded samples), `dataset` (records on disk), `oracle` (the exact judge). See docs/synth.md.
"""

from unireward.synth.dataset import build_dataset, write_sample
from unireward.synth.generate import Sample, make_sample, split_of
from unireward.synth.grammar import GrammarError, parse_caption, parse_question, vocabulary_corpus
from unireward.synth.oracle import Oracle
from unireward.synth.render import render_clip, render_scene
from unireward.synth.semantics import VideoScore
from unireward.synth.world import Clip, Obj, Scene, Track


__all__ = ["Clip", "GrammarError", "Obj", "Oracle", "Sample", "Scene", "Track", "VideoScore", "build_dataset",
           "make_sample", "parse_caption", "parse_question", "render_clip", "render_scene", "split_of",
           "vocabulary_corpus", "write_sample"]
