"""TRL's GRPOTrainer runs 2 steps with a tiny Qwen2.5-VL policy and a unireward reward function: in-process
(sync) and over HTTP against `unireward serve` (the async twin, gathered by TRL's async loop)."""

from __future__ import annotations

import pytest

from tests.rewards.conftest import image


def _train(policy: str, reward, out_dir) -> tuple[list, list]:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    seen: list[list] = []

    def spy(prompts, completions, **kwargs):  # records what the reward gave TRL; TRL calls it as sync
        seen.append(reward(prompts, completions, **kwargs))
        return seen[-1]

    async def async_spy(prompts, completions, **kwargs):  # TRL gathers it on its async loop
        seen.append(await reward(prompts, completions, **kwargs))
        return seen[-1]

    spy = async_spy if _is_async(reward) else spy
    spy.__name__ = reward.__name__
    rows = [{"prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is this?"}]}],
             "image": image(k)} for k in range(4)]
    args = GRPOConfig(output_dir=str(out_dir), use_cpu=True, bf16=False, gradient_checkpointing=False,
                      report_to="none", save_strategy="no", max_steps=2, per_device_train_batch_size=2,
                      num_generations=2, max_completion_length=4, logging_steps=1)
    trainer = GRPOTrainer(model=policy, reward_funcs=[spy], args=args, train_dataset=Dataset.from_list(rows))
    trainer.train()
    return seen, [h for h in trainer.state.log_history if "reward" in h]


def _is_async(fn) -> bool:
    import inspect

    return inspect.iscoroutinefunction(type(fn).__call__)


@pytest.mark.parametrize("where", ["in-process", "http"])
def test_grpo_two_steps_with_a_unireward_reward(where, tiny_qwen, reward_judge, reward_url, tmp_path):
    from unireward.rewards import PointwiseReward

    if where == "in-process":
        reward = PointwiseReward(reward_judge, task="image_understanding")
    else:
        reward = PointwiseReward(url=reward_url, task="image_understanding").as_async()
    seen, logs = _train(tiny_qwen, reward, tmp_path)
    assert len(logs) == 2 and len(seen) == 2  # two steps, the reward called once per step
    for values, log in zip(seen, logs):
        assert len(values) == 2 and all(0 < v < 1 for v in values)  # continuous expected scores in [0, 1]
        assert log[f"rewards/{reward.__name__}/mean"] == pytest.approx(sum(values) / 2, rel=1e-4)
