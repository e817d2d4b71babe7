"""The unified preference dataset: records, source adapters, recipes, training exports, stats.

- the unified record itself lives in `unireward.records` (shared by data, bench, construct, judge run).
- `sources`: one adapter per public source; `convert.convert` runs one (``unireward data convert``).
- `mix`: recipes selecting and mixing converted sources; `export.build` writes SFT conversations
  (``unireward data build``), with `export.target_answer` the single definition of training targets.
- `stats`: counts and a plot over records (``unireward data stats``). See docs/data.md.
"""
