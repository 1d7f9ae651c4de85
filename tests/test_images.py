"""Encoded images: the size read from the header, and the decompression guard."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from overfeat_tf.images import MAX_PIXELS, decode_image, header_size, read_image

# (PIL format, save options): every format `tf.io.decode_image` reads but
# JPEG XL, which `header_size` refuses.
FORMATS = {
    "jpeg": ("JPEG", {}),
    "progressive jpeg": ("JPEG", {"progressive": True}),
    "png": ("PNG", {}),
    "gif": ("GIF", {}),
    "bmp": ("BMP", {}),
    "webp lossy": ("WEBP", {}),
    "webp lossless": ("WEBP", {"lossless": True}),
    "webp extended": ("WEBP", {}),  # lossy with alpha: a VP8X chunk
}


def _encode(array, fmt, **options):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt, **options)
    return buf.getvalue()


@pytest.mark.parametrize("name", FORMATS)
def test_header_size_is_pils_and_the_decoded_size(name):
    # Catches a header field read at the wrong offset, byte order or width
    # (e.g. PNG's height for its width, GIF read big-endian, VP8L's 14-bit
    # fields off by one): PIL parses the same headers independently.
    fmt, options = FORMATS[name]
    rng = np.random.default_rng(len(name))
    for _ in range(4):
        h, w = rng.integers(1, 400, 2)
        if rng.random() < 0.5:  # sides over 255 need the high bytes
            h, w = h + 256, w + 300
        channels = 4 if name == "webp extended" else 3
        pixels = rng.integers(0, 256, (h, w, channels), np.uint8)
        data = _encode(pixels, fmt, **options)
        if name == "webp extended":
            assert data[12:16] == b"VP8X"
        want = Image.open(io.BytesIO(data)).size[::-1]
        np.testing.assert_array_equal(header_size(data).numpy(), want, err_msg=name)
        assert decode_image(data).shape == (*want, 3)


def test_top_down_bmp_size():
    # A negative BMP height (rows stored top-down) is a size, not garbage.
    data = bytearray(_encode(np.zeros((7, 5, 3), np.uint8), "BMP"))
    data[22:26] = (-7).to_bytes(4, "little", signed=True)
    np.testing.assert_array_equal(header_size(bytes(data)).numpy(), [7, 5])


def _crafted():
    """Headers claiming far more pixels than MAX_PIXELS, and nothing behind."""
    # A real JPEG's headers, the frame header's size patched, cut after
    # the first bytes of the scan.
    jpeg = bytearray(_encode(np.zeros((8, 8, 3), np.uint8), "JPEG"))
    frame = jpeg.index(b"\xff\xc0")
    jpeg[frame + 5 : frame + 9] = (30000).to_bytes(2, "big") + (40000).to_bytes(
        2, "big"
    )
    jpeg = bytes(jpeg[: jpeg.index(b"\xff\xda") + 20])
    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"
        + (40000).to_bytes(4, "big")
        + (30000).to_bytes(4, "big")
        + b"\x08\x02\x00\x00\x00"
    )
    gif = b"GIF89a" + (40000).to_bytes(2, "little") + (30000).to_bytes(2, "little")
    bmp = bytearray(_encode(np.zeros((2, 2, 3), np.uint8), "BMP"))
    bmp[18:26] = (40000).to_bytes(4, "little") + (30000).to_bytes(4, "little")
    webp = (
        b"RIFF\x00\x01\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00"
        + (40000 - 1).to_bytes(3, "little")
        + (30000 - 1).to_bytes(3, "little")
    )
    return {"jpeg": jpeg, "png": png, "gif": gif, "bmp": bytes(bmp), "webp": webp}


@pytest.mark.parametrize("name", ["jpeg", "png", "gif", "bmp", "webp"])
def test_absurd_header_is_refused_before_decoding(name):
    # Catches a guard that runs after the decoder (which would try to
    # allocate 3.6 GB, or fail with its own message about the missing
    # data), or one that reads the size wrongly: only the guard names the
    # claimed size and the limit.
    data = _crafted()[name]
    np.testing.assert_array_equal(header_size(data).numpy(), [30000, 40000])
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=f"claims 40000x30000 \\(width x height\\) pixels, over the limit "
        f"of {MAX_PIXELS:,}",
    ):
        decode_image(data)


def test_limit_is_inclusive_and_configurable():
    # Catches an off-by-one (< for <=) and a limit that is not the argument.
    data = _encode(np.zeros((25, 40, 3), np.uint8), "PNG")
    assert decode_image(data, max_pixels=1000).shape == (25, 40, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="limit of 999"):
        decode_image(data, max_pixels=999)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "is an empty string"),
        (b"hello, world\n" * 20, "not a JPEG, PNG, GIF, BMP or WebP image"),
        (b"\xff\x0a" + bytes(100), "not a JPEG, PNG, GIF, BMP or WebP image"),
    ],
    ids=["empty", "text", "jpeg xl"],
)
def test_unreadable_bytes_are_named(data, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        decode_image(data)


def test_read_image_says_which_file(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_crafted()["png"])
    with pytest.raises(ValueError, match="bomb.png.*claims 40000x30000"):
        read_image(path)
    path.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="not a JPEG, PNG, GIF, BMP or WebP"):
        read_image(path)
