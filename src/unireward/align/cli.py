"""`unireward align vlm|diffusion`: thin wrappers over the trainers (heavy imports inside the commands)."""

from __future__ import annotations

import typer


app = typer.Typer(no_args_is_help=True)
# each trainer module registers its command here with one line: app.command("NAME")(function)
app.command("vlm")(__import__("unireward.align.vlm", fromlist=["vlm"]).vlm)
app.command("diffusion")(__import__("unireward.align.diffusion", fromlist=["diffusion"]).diffusion)
