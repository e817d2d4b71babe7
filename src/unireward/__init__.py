"""unireward: one vision-language judge for image/video generation and understanding, and the loop around it.

>>> import unireward as ur
>>> judge = ur.load_judge("CodeGoat24/UnifiedReward-qwen-7b")
>>> judge.compare(ur.Task.IMAGE_GENERATION, prompt="a red fox", a="a.png", b="b.png").winner

Importing this package is cheap: backends, trainers and extras load on first use.
"""

from unireward.tasks import Form, Score, Task, Verdict


__version__ = "0.1.0"
__all__ = ["Form", "Score", "Task", "Verdict", "load_judge", "list_models", "__version__"]


def load_judge(spec: str, **kwargs):
    """Load a judge from a preset name, a hub id, a local folder or ``openai://HOST:PORT/MODEL``."""
    from unireward.judges.registry import load_judge as _load

    return _load(spec, **kwargs)


def list_models() -> list[str]:
    """The names of the preset judges (released UnifiedReward checkpoints)."""
    from unireward.judges.registry import list_presets

    return [p.name for p in list_presets()]
