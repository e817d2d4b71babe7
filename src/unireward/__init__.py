"""unireward: one vision-language judge for image/video generation and understanding, and the loop around it.

>>> import unireward as ur
>>> judge = ur.load_judge("CodeGoat24/UnifiedReward-qwen-7b")
>>> judge.compare(ur.Task.IMAGE_GENERATION, prompt="a red fox", a="a.png", b="b.png").winner

Importing this package is cheap: backends, trainers and extras load on first use.
"""

from unireward.tasks import Form, Score, Task, Verdict


__version__ = "0.1.0"
__all__ = ["Form", "JudgeConfig", "Score", "Task", "Verdict", "load_judge", "list_models", "__version__"]


def load_judge(spec: str, config=None, **options):
    """Load a judge from a preset name, a hub id, a local folder or ``openai://HOST:PORT/MODEL``.

    `config` is a `JudgeConfig`; keyword options override its fields or go to the backend."""
    from unireward.judges.registry import load_judge as _load

    return _load(spec, config, **options)


def __getattr__(name: str):
    if name == "JudgeConfig":  # lazy, so `import unireward` stays cheap
        from unireward.judges.config import JudgeConfig

        return JudgeConfig
    raise AttributeError(f"module 'unireward' has no attribute {name!r}")


def list_models() -> list[str]:
    """The names of the preset judges (released UnifiedReward checkpoints)."""
    from unireward.judges.registry import list_presets

    return [p.name for p in list_presets()]
