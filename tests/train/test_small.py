"""The small synthetic-world judge's base: stock classes and loading path, the pixel normalisation that lets it
learn from pixels, 3x3 visual tokens per 84-px image, and template phrases as single tokens."""

from __future__ import annotations


def test_small_base_loads_with_stock_classes_and_grey_normalisation(tmp_path):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from unireward.synth import render_scene
    from unireward.synth.world import BACKGROUND, Obj, Scene
    from unireward.train.small import build_small_base, small_tokenizer, template_phrases

    tok = small_tokenizer()
    phrases = template_phrases()
    assert len(phrases) >= 8 and all(len(tok.tokenize(p)) == 1 for p in phrases)
    path = build_small_base(tmp_path / "base", tokenizer=tok)
    model = AutoModelForImageTextToText.from_pretrained(path)
    proc = AutoProcessor.from_pretrained(path)
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert 1e6 < sum(p.numel() for p in model.parameters()) < 5e6
    img = render_scene(Scene((Obj("circle", "red", "large", 0.5, 0.5),)), 84)
    pix = proc.image_processor(images=[img], return_tensors="pt")
    assert pix["image_grid_thw"].tolist() == [[1, 6, 6]]  # 6x6 patches of 14 px, merged 2x2: 9 LM tokens
    assert list(proc.image_processor.image_mean) == [v / 255 for v in BACKGROUND]
    corner = pix["pixel_values"][0]  # the top-left patch is all background: normalised to zero
    assert float(corner.abs().max()) < 1e-5
