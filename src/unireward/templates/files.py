"""Template families as files: a user supplies the exact prompts a checkpoint was trained on.

Any API or CLI option that takes a family (``family=``, ``--family``) also takes a path to a ``.yaml``,
``.yml`` or ``.toml`` file in this schema (`unireward templates export` writes one to start from):

```yaml
base: v1                      # optional: a built-in family for every template (and field) not given here
description: my prompts       # optional, free text
image_generation:             # a task: image_generation, image_understanding, video_generation, video_understanding
  pair:                       # a form: pair or point
    # text: the instruction; placeholders {prompt}, {answer}, {answer_a}, {answer_b}, {lo}, {hi}; literal
    # braces doubled ({{ }}). "|-" ends without a newline, "|" with one, "|+" keeps every trailing newline.
    text: |-
      You are given a text caption and two images ...
      Text Caption: [{prompt}]
    parser: phrase            # phrase | final_score | dim_scores | pair_scores | think
    phrases: {A: Image 1 is better, B: Image 2 is better, tie: Both images are equally good}
    marker: null              # read the verdict after the last occurrence of this text
    scale: [1, 5]             # pointwise overall scale
    dims: []                  # per-dimension names (dim_scores, pair_scores, final_score dimension lines)
    dim_scale: null           # [lo, hi] of each dimension
    decimals: 0               # digits after the decimal point the trained answers carry
    num_frames: null          # frames per video the checkpoint was trained with (null: the judge's default)
    logprob_prefixes: {"": ""}  # assistant prefix per value read in logprob mode; null: logprob not offered
    max_new_tokens: 512
```

Rules, chosen so a file cannot be half-understood:
- With ``base``, a template given in the file is merged field by field over the base's template of the
  same task and form (give only ``text`` to change the wording), and a task or form the file leaves out
  is the base's. Without ``base``, ``text`` and ``parser`` are required and a missing template is an error
  when it is asked for.
- Unknown keys, tasks, forms, parsers and placeholders are errors that name the file and the entry.
- Templates read from a file carry the family string the user gave (the path), so predictions record it.
- A file is re-read when it changes (the cache key includes its modification time and size).
- `dump_family` writes every template of a family in full (no ``base``), so load(dump(f)) renders exactly
  as f; YAML uses block scalars for multi-line text, TOML multi-line literal strings where possible.
"""

from __future__ import annotations

import json
import string
import tomllib
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from unireward.tasks import Form, Task
from unireward.templates.base import FAMILIES, PARSERS, Template, builtin_template


SUFFIXES = (".yaml", ".yml", ".toml")
FIELDS = ("text", "parser", "phrases", "marker", "scale", "dims", "dim_scale", "decimals", "num_frames",
          "logprob_prefixes", "max_new_tokens")
PLACEHOLDERS = {"prompt", "answer", "answer_a", "answer_b", "lo", "hi"}
TOP_KEYS = {"base", "description"} | {t.value for t in Task}


class TemplateFileError(ValueError):
    """A template file that cannot be read as templates; the message names the file and the entry."""


def is_template_file(family: str) -> bool:
    """Whether `family` names a template file (by suffix) rather than a built-in family."""
    return isinstance(family, str) and Path(family).suffix.lower() in SUFFIXES


@dataclass(frozen=True)
class FileFamily:
    """The templates of one file, with the built-in `base` family behind them."""

    family: str
    templates: dict[tuple[Task, Form], Template]
    base: str | None = None
    description: str | None = None

    def get(self, task: Task, form: Form) -> Template:
        if (task, form) in self.templates:
            return self.templates[(task, form)]
        if self.base is None:
            have = sorted(f"{t}/{f}" for t, f in self.templates)
            raise ValueError(f"template file {self.family} has no {form} template for {task} and no 'base' "
                             f"family to fall back on; it defines: {have}")
        return replace(builtin_template(task, form, self.base), family=self.family)


def load_family(family: str) -> FileFamily:
    """The templates of the file `family` (a path); re-read when the file changes."""
    path = Path(family)
    if not path.is_file():
        raise FileNotFoundError(f"template file {family} not found")
    stat = path.stat()
    return _load(family, str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=32)
def _load(family: str, resolved: str, mtime_ns: int, size: int) -> FileFamily:
    data = _read(Path(resolved), family)
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise TemplateFileError(f"{family}: unknown top-level keys {sorted(unknown)}; allowed: {sorted(TOP_KEYS)}")
    base = data.get("base")
    if base is not None and base not in FAMILIES:
        raise TemplateFileError(f"{family}: base must be a built-in family ({', '.join(FAMILIES)}), got {base!r}")
    templates = {}
    for task in Task:
        forms = data.get(task.value) or {}
        if not isinstance(forms, dict):
            raise TemplateFileError(f"{family}: {task} must map forms (pair, point) to templates")
        for name, entry in forms.items():
            form = _form(family, task, name)
            templates[(task, form)] = _template(family, task, form, entry, base)
    return FileFamily(family, templates, base, data.get("description"))


def _read(path: Path, family: str) -> dict[str, Any]:
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        else:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as e:
        raise TemplateFileError(f"{family}: not valid {path.suffix[1:].upper()}: {e}") from None
    if not isinstance(data, dict):
        raise TemplateFileError(f"{family}: expected a mapping of tasks to templates at the top level")
    return data


def _form(family: str, task: Task, name: str) -> Form:
    try:
        return Form.parse(name)
    except ValueError:
        raise TemplateFileError(f"{family}: {task}.{name}: unknown form; use pair or point") from None


def _template(family: str, task: Task, form: Form, entry: Any, base: str | None) -> Template:
    where = f"{family}: {task}.{form}"
    if not isinstance(entry, dict):
        raise TemplateFileError(f"{where}: expected a mapping of template fields")
    unknown = set(entry) - set(FIELDS)
    if unknown:
        raise TemplateFileError(f"{where}: unknown fields {sorted(unknown)}; allowed: {list(FIELDS)}")
    start = replace(builtin_template(task, form, base), family=family) if base else None
    if start is None and not {"text", "parser"} <= set(entry):
        raise TemplateFileError(f"{where}: 'text' and 'parser' are required (or set 'base' to inherit them)")
    values = {k: _convert(where, k, v) for k, v in entry.items()}
    t = replace(start, **values) if start else Template(task, form, family, **values)
    _validate(where, t)
    return t


def _convert(where: str, key: str, value: Any) -> Any:
    if key in ("scale", "dim_scale"):
        if value is None:
            return None
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(x, (int, float)) for x in value)):
            raise TemplateFileError(f"{where}: {key} must be [lo, hi], got {value!r}")
        return (float(value[0]), float(value[1]))
    if key == "dims":
        return tuple(value or ())
    if key in ("phrases", "logprob_prefixes") and value is not None and not isinstance(value, dict):
        raise TemplateFileError(f"{where}: {key} must be a mapping, got {value!r}")
    if key in ("phrases", "logprob_prefixes") and value is not None:
        return {str(k): str(v) for k, v in value.items()}
    if key in ("decimals", "max_new_tokens") and not isinstance(value, int):
        raise TemplateFileError(f"{where}: {key} must be an integer, got {value!r}")
    if key == "num_frames" and value is not None and not (isinstance(value, int) and value > 0):
        raise TemplateFileError(f"{where}: num_frames must be a positive integer or null, got {value!r}")
    if key in ("text", "parser") and not isinstance(value, str):
        raise TemplateFileError(f"{where}: {key} must be a string")
    if key == "marker" and value is not None and not isinstance(value, str):
        raise TemplateFileError(f"{where}: marker must be a string or null")
    return value


def _validate(where: str, t: Template) -> None:
    if t.parser not in PARSERS:
        raise TemplateFileError(f"{where}: unknown parser {t.parser!r}; valid: {', '.join(PARSERS)}")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(t.text) if name is not None}
    except ValueError as e:
        raise TemplateFileError(f"{where}: text is not a valid format string ({e}); double literal braces") from None
    bad = names - PLACEHOLDERS
    if bad:
        raise TemplateFileError(f"{where}: unknown placeholders {sorted(bad)}; allowed: {sorted(PLACEHOLDERS)}")
    if "prompt" not in names:
        raise TemplateFileError(f"{where}: text has no {{prompt}} placeholder")
    if t.parser == "phrase" and t.form == Form.PAIR and not {"A", "B"} <= set(t.phrases):
        raise TemplateFileError(f"{where}: a phrase template needs phrases for A and B")


# ---------------------------------------------------------------------------------------------------- export
def template_data(t: Template) -> dict[str, Any]:
    """One template as plain data in the file schema (every field)."""
    out: dict[str, Any] = {}
    for f in fields(Template):
        if f.name not in FIELDS:
            continue
        value = getattr(t, f.name)
        if isinstance(value, tuple):
            value = [_plain(x) for x in value]
        out[f.name] = dict(value) if isinstance(value, dict) else value
    return out


def family_data(family: str) -> dict[str, Any]:
    """Every template of `family` (built-in name or file) in the file schema, with no base."""
    from unireward.templates.base import get_template

    data: dict[str, Any] = {"description": f"unireward templates of family {family}"}
    for task in Task:
        data[task.value] = {form.value: template_data(get_template(task, form, family)) for form in Form}
    return data


def dump_family(family: str, path: str | Path) -> Path:
    """Write every template of `family` to `path` (.yaml/.yml/.toml by suffix)."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise ValueError(f"template files end in {', '.join(SUFFIXES)}; got {path.name}")
    data = family_data(family)
    text = _toml(data) if path.suffix.lower() == ".toml" else _yaml(data)
    path.write_text(text, encoding="utf-8")
    return path


def _plain(x: Any) -> Any:
    return int(x) if isinstance(x, float) and x.is_integer() else x


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings as literal blocks (PyYAML picks the chomping that keeps trailing newlines)."""


def _str(dumper: yaml.SafeDumper, s: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None)


_BlockDumper.add_representer(str, _str)


def _yaml(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=1000)


def _toml(data: dict[str, Any]) -> str:
    lines = [f"description = {_toml_value(data['description'])}"]
    for task in Task:
        for form, t in data[task.value].items():
            lines += ["", f"[{task.value}.{form}]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in t.items() if v is not None]
    return "\n".join(lines) + "\n"


def _toml_value(v: Any) -> str:
    if isinstance(v, str):
        if "\n" in v and "'''" not in v and all(c == "\n" or c == "\t" or c >= " " for c in v):
            return "'''\n" + v + "'''"  # a literal string: the newline right after ''' is not part of it
        return json.dumps(v, ensure_ascii=False)  # JSON string escapes are valid TOML basic-string escapes
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(v)
