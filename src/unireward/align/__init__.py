"""Stage 3: align generators with DPO on the preference pairs `unireward construct` writes.

- `unireward.align.vlm`: DPO of vision-language models (TRL `DPOTrainer`), images and videos.
- `unireward.align.diffusion`: Diffusion-DPO of image and video diffusion models (diffusers), with the
  flow-matching form for SD3/FLUX/Wan-style transformers.

Importing this package loads neither TRL nor diffusers; each trainer imports them when it runs.
"""
