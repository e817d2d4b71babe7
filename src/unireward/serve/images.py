"""Images sent to a unireward server: base64 data URLs, or remote URLs under the server's `UrlPolicy`.

Design choices a user will notice:
- A data URL must be ``data:image/...;base64,...`` with valid base64 (no whitespace); its size is checked
  before decoding the base64, and the image's declared width x height is checked from its header before
  the pixels are decoded, so neither a huge body nor a decompression bomb costs memory.
- A decoded image goes through `unireward.media.load_image` (mode conversion, the judge's pixel budget),
  exactly as an image given to the in-process judge.
- Every refusal is a 400 naming the field (``messages[0].content[2].image_url.url``) and the rule.
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings

from PIL import Image

from unireward.media import MAX_DECODE_PIXELS, MediaError, load_image
from unireward.serve.errors import bad_request
from unireward.serve.limits import Limits
from unireward.serve.security import UrlPolicy, fetch


async def image_from_url(url: str, param: str, limits: Limits, policy: UrlPolicy,
                         budget: int | None = None) -> Image.Image:
    """The RGB image an ``image_url.url`` names (fetched only as `policy` allows)."""
    import anyio

    if url[:5].lower() == "data:":
        data = decode_data_url(url, param, limits.max_image_bytes)
    else:
        data = await fetch(policy, url, param, limits.max_image_bytes, limits.fetch_timeout)
    return await anyio.to_thread.run_sync(decode_image, data, param, limits.max_image_pixels, budget)


def decode_data_url(url: str, param: str, max_bytes: int) -> bytes:
    header, sep, payload = url.partition(",")
    if not sep:
        raise bad_request(param, "a data URL needs a ',' before its data")
    meta = header[5:].split(";")
    if "base64" not in [m.strip().lower() for m in meta[1:]]:
        raise bad_request(param, "only base64 data URLs are accepted (data:image/png;base64,...)")
    if meta[0] and not meta[0].lower().startswith("image/"):
        raise bad_request(param, f"the data URL's media type is {meta[0]!r}, not an image type")
    if len(payload) * 3 // 4 > max_bytes:
        raise bad_request(param, f"the image is about {len(payload) * 3 // 4} bytes, over the limit of {max_bytes}")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as e:
        raise bad_request(param, f"invalid base64 in the data URL ({e})") from None


def decode_image(data: bytes, param: str, max_pixels: int, budget: int | None = None) -> Image.Image:
    """Check the declared size, then decode; refuse non-images and truncated files."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as e:
            raise bad_request(param, f"the image declares too many pixels ({e})") from None
        except Exception as e:  # UnidentifiedImageError, DecompressionBombWarning/Error, OSError ...
            raise bad_request(param, f"not a readable image ({type(e).__name__}: {e})") from None
    w, h = img.size
    limit = min(max_pixels, MAX_DECODE_PIXELS)
    if w * h > limit:
        raise bad_request(param, f"the image is {w}x{h} = {w * h:,} pixels, over the limit of {limit:,} "
                                 "(--max-image-pixels)")
    try:
        img.load()
        return load_image(img, budget)
    except (MediaError, OSError, ValueError, SyntaxError) as e:
        raise bad_request(param, f"corrupt or truncated image ({e})") from None
