"""Media loading: every input kind, frame sampling, pixel budgets, hashes, and each bad input."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from unireward import media
from unireward.media import MediaError, content_hash, load_image, load_video, uniform_indices


def test_image_from_path_bytes_pil_and_array(media_dir):
    path = media_dir / "img0.png"
    a = load_image(path)
    b = load_image(path.read_bytes())
    c = load_image(Image.open(path).convert("L"))
    d = load_image(np.asarray(a))
    assert a.mode == b.mode == c.mode == d.mode == "RGB"
    assert np.array_equal(np.asarray(a), np.asarray(b)) and np.array_equal(np.asarray(a), np.asarray(d))


def test_resize_within_pixel_budget(media_dir):
    big = Image.new("RGB", (400, 100))
    small = load_image(big, max_pixels=10_000)
    assert small.size[0] * small.size[1] <= 10_000
    assert abs(small.size[0] / small.size[1] - 4) < 0.1
    assert load_image(big, max_pixels=10**6).size == (400, 100)  # never upscaled


@pytest.mark.parametrize("name,message", [
    ("missing.png", "file not found"),
    ("truncated.png", "corrupt or truncated"),
    ("garbage.png", "cannot open image"),
])
def test_bad_images_name_the_file(media_dir, name, message):
    with pytest.raises(MediaError, match=message) as e:
        load_image(media_dir / name)
    assert name in str(e.value)


def test_decompression_bomb_is_refused_before_decoding(tmp_path, monkeypatch):
    monkeypatch.setattr(media, "MAX_DECODE_PIXELS", 100 * 100)
    Image.new("RGB", (200, 200)).save(tmp_path / "bomb.png")
    with pytest.raises(MediaError, match=r"bomb.png: image is 200x200 = 40,000 pixels, over the limit"):
        load_image(tmp_path / "bomb.png")
    buf = io.BytesIO()
    Image.new("RGB", (200, 200)).save(buf, format="PNG")
    with pytest.raises(MediaError, match="over the limit"):
        load_image(buf.getvalue())


def test_uniform_indices():
    assert uniform_indices(12, 8) == [0, 2, 3, 5, 6, 8, 9, 11]
    assert uniform_indices(100, 8)[0] == 0 and uniform_indices(100, 8)[-1] == 99
    assert uniform_indices(3, 5) == [0, 0, 1, 2, 2]  # short videos repeat frames
    assert uniform_indices(5, 1) == [0]


def test_video_file_sampling_keeps_order(media_dir):
    frames = load_video(media_dir / "a.mp4", num_frames=4)
    assert len(frames) == 4 and frames[0].size == (32, 32)
    means = [np.asarray(f).mean() for f in frames]
    # frames were written with increasing grey levels 10, 25, ..., 175: indices 0, 4, 7, 11
    assert means == pytest.approx([10, 70, 115, 175], abs=4)


def test_video_from_frames_and_folder_paths(media_dir):
    paths = sorted((media_dir / "frames").glob("*.png"))
    frames = load_video([str(p) for p in paths], num_frames=8)
    assert len(frames) == 8
    assert np.array_equal(np.asarray(frames[0]), np.asarray(load_image(paths[0])))
    assert np.array_equal(np.asarray(frames[-1]), np.asarray(load_image(paths[-1])))


@pytest.mark.parametrize("src,message", [
    ("missing.mp4", "file not found"),
    ("truncated.mp4", "corrupt or unreadable video"),
    ("empty.mp4", "corrupt or unreadable video"),
    ("garbage.png", "corrupt or unreadable video"),
])
def test_bad_videos_name_the_file(media_dir, src, message):
    with pytest.raises(MediaError, match=message) as e:
        load_video(media_dir / src)
    assert src in str(e.value)


def test_zero_frame_video(media_dir):
    with pytest.raises(MediaError, match="has no frames"):
        load_video([], name="clip-7")


def test_a_bad_frame_names_the_frame(media_dir):
    with pytest.raises(MediaError, match="frame 1"):
        load_video([str(media_dir / "img0.png"), str(media_dir / "truncated.png")], num_frames=2, name="clip")


def test_content_hash_is_stable_and_content_based(media_dir, tmp_path):
    p = media_dir / "img0.png"
    copy = tmp_path / "copy.png"
    copy.write_bytes(p.read_bytes())
    assert content_hash(p) == content_hash(copy) == content_hash(p.read_bytes())
    assert content_hash(p) != content_hash(media_dir / "img1.png")
    img = load_image(p)
    assert content_hash(img) == content_hash(img.copy())
    frames = [str(x) for x in sorted((media_dir / "frames").glob("*.png"))]
    assert content_hash(frames) == content_hash(list(frames)) != content_hash(frames[::-1])
    with pytest.raises(MediaError, match="file not found"):
        content_hash(tmp_path / "nope.png")
