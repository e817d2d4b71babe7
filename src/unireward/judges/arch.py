"""What differs between the supported VLM architectures, kept as data.

The `hf` backend reads `config.model_type` and looks the architecture up here: how many images a
prompt may hold, whether images must be passed as one nested list per prompt (LLaVA-OneVision tokenises a
flat list as separate single-image samples), and the default prompt family of the released checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass


# The chat template of the llava-hf LLaVA-OneVision conversions (media first, then text, ChatML turns).
LLAVA_ONEVISION_CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n'}}"
    "{# Render all images first #}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}{% endfor %}"
    "{# Render all video then #}{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}"
    "{{ '<video>\n' }}{% endfor %}"
    "{# Render all text next #}{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}"
    "{% endfor %}{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ content['text'] }}{% endgeneration %}{% endfor %}{% endif %}"
    "{{'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass(frozen=True)
class Arch:
    model_type: str
    default_family: str
    nested_images: bool  # pass images=[[a, b], ...] (one list per prompt)
    system_prompt: str | None  # added explicitly when the chat template does not add one


ARCHES = {
    "qwen2_vl": Arch("qwen2_vl", "v1", nested_images=False, system_prompt=None),
    "qwen2_5_vl": Arch("qwen2_5_vl", "v1", nested_images=False, system_prompt=None),
    "qwen3_vl": Arch("qwen3_vl", "2.0", nested_images=False, system_prompt=None),
    # The LLaVA checkpoints were trained with the qwen_1_5 conversation, whose system turn is this text.
    "llava_onevision": Arch("llava_onevision", "v1-llava", nested_images=True,
                            system_prompt="You are a helpful assistant."),
}


def get_arch(model_type: str) -> Arch:
    if model_type not in ARCHES:
        raise ValueError(f"unsupported architecture {model_type!r}; supported: {', '.join(ARCHES)}")
    return ARCHES[model_type]
