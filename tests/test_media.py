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


@pytest.mark.parametrize("load,name,message", [
    (load_image, "missing.png", "file not found"),
    (load_image, "truncated.png", "corrupt or truncated"),
    (load_image, "garbage.png", "cannot open image"),
    (load_video, "missing.mp4", "file not found"),
    (load_video, "truncated.mp4", "corrupt or unreadable video"),
    (load_video, "empty.mp4", "corrupt or unreadable video"),
    (load_video, "garbage.png", "corrupt or unreadable video"),
])
def test_bad_media_name_the_file(media_dir, load, name, message):
    with pytest.raises(MediaError, match=message) as e:
        load(media_dir / name)
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


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_16_bit_greyscale_is_scaled_not_clipped_to_white():
    grey = np.array([[0, 257, 32896], [51400, 65280, 65535]], dtype=np.uint16)  # 8-bit 0, 1, 128, 200, 254, 255
    want = np.array([[0, 1, 128], [200, 254, 255]], dtype=np.uint8)
    for src in (_png(Image.fromarray(grey)),  # a 16-bit PNG opens as I;16
                Image.frombytes("I;16B", (3, 2), grey.astype(">u2").tobytes()),
                Image.fromarray(grey.astype(np.int32)),  # mode I (older Pillows open 16-bit PNGs so)
                np.repeat(grey[..., None], 3, axis=2)):  # a uint16 array
        out = load_image(src)
        assert out.mode == "RGB"
        assert np.array_equal(np.asarray(out)[..., 0], want) and np.array_equal(np.asarray(out)[..., 2], want)
    assert np.asarray(load_image(Image.fromarray(np.array([[-5, 70000]], np.int32))))[0, :, 0].tolist() == [0, 255]


def test_transparency_is_composited_on_white():
    rgba = np.zeros((1, 3, 4), np.uint8)
    rgba[0, :, :3] = (200, 0, 0)  # red everywhere, with alpha 255, 0 and 128
    rgba[0, :, 3] = (255, 0, 128)
    want = [[200, 0, 0], [255, 255, 255], [227, 127, 127]]  # a = 128/255: 200a + 255(1 - a) = 227.4
    for src in (_png(Image.fromarray(rgba, "RGBA")), rgba):
        assert np.asarray(load_image(src))[0].tolist() == want
    la = Image.fromarray(np.array([[[40, 255], [40, 0]]], np.uint8), "LA")
    assert np.asarray(load_image(la))[0].tolist() == [[40, 40, 40], [255, 255, 255]]
    pal = Image.new("P", (2, 1))
    pal.putpalette([0, 0, 0, 0, 0, 255])  # index 0 black (transparent), index 1 blue
    pal.putpixel((1, 0), 1)
    pal.info["transparency"] = 0
    assert np.asarray(load_image(Image.open(io.BytesIO(_png(pal)))))[0].tolist() == [[255, 255, 255], [0, 0, 255]]
    assert media.BACKGROUND == (255, 255, 255)
    assert np.asarray(media.to_rgb(la, background=(0, 0, 0)))[0].tolist() == [[40, 40, 40], [0, 0, 0]]


def test_out_of_range_arrays_are_refused():
    with pytest.raises(MediaError, match=r"values must lie in 0..255"):
        load_image(np.full((2, 2, 3), 300, np.int64), name="arr")
    assert np.asarray(load_image(np.full((2, 2, 3), 9, np.int64)))[0, 0].tolist() == [9, 9, 9]


def test_video_alpha_plane_is_composited(tmp_path):
    import av

    path = tmp_path / "alpha.mov"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("png", rate=8)
        stream.width, stream.height, stream.pix_fmt = 4, 2, "rgba"
        a = np.zeros((2, 4, 4), np.uint8)
        a[..., 0], a[:, :2, 3] = 200, 255  # red; the right half fully transparent
        for packet in [*stream.encode(av.VideoFrame.from_ndarray(a, format="rgba")), *stream.encode()]:
            container.mux(packet)
    frame = np.asarray(load_video(path, num_frames=1)[0])
    assert frame[0].tolist() == [[200, 0, 0], [200, 0, 0], [255, 255, 255], [255, 255, 255]]
