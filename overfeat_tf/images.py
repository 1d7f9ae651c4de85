"""Decoding encoded images, guarded by the size their header claims.

A JPEG, PNG, GIF, BMP or WebP header states the image's size in a few bytes,
and a few kilobytes of compressed data can claim gigapixels (a decompression
bomb). `decode_image` reads that size first, in the graph, and refuses an
image over `max_pixels` before the decoder allocates anything; the default,
`MAX_PIXELS` (2**27, 134 megapixels, 11,585 px square), is above the photos
of any camera or phone (24 MP is a 6000x4000 JPEG, medium-format backs reach
100 MP). The serving signatures and the command line tools decode with it.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from overfeat_tf.config import ExportConfig

__all__ = [
    "MAX_PIXELS",
    "assert_pixels",
    "decode_image",
    "error_text",
    "header_size",
    "read_image",
]

MAX_PIXELS = ExportConfig.max_pixels

FORMATS = "JPEG, PNG, GIF, BMP or WebP"

# How far into the file the headers below read.
_HEADER_BYTES = 32


def _bytes(header, offset, n):
    """float64 `[n]`: bytes `offset..offset+n` of a `_HEADER_BYTES` string."""
    raw = tf.io.decode_raw(tf.strings.substr(header, offset, n), tf.uint8)
    return tf.cast(tf.reshape(raw, [n]), tf.float64)


def _uint(header, offset, n, big_endian=False):
    """The unsigned integer in bytes `offset..offset+n`, as float64."""
    weights = tf.constant([256.0**i for i in range(n)], tf.float64)
    if big_endian:
        weights = tf.reverse(weights, [0])
    return tf.reduce_sum(_bytes(header, offset, n) * weights)


def _png_size(header):
    # Signature (8 bytes), IHDR length and type (8), width, height (big-endian).
    return _uint(header, 20, 4, True), _uint(header, 16, 4, True)


def _gif_size(header):
    # The logical screen: what the decoder allocates for the first frame.
    return _uint(header, 8, 2), _uint(header, 6, 2)


def _bmp_size(header):
    # Signed little-endian int32s at 18 (width) and 22 (height; negative for
    # a top-down image), read as TensorFlow's BMP decoder reads them.
    def signed(offset):
        value = _uint(header, offset, 4)
        return tf.abs(tf.where(value >= 2.0**31, value - 2.0**32, value))

    return signed(22), signed(18)


def _webp_size(header):
    # RIFF container; the first chunk at 12 is "VP8 " (lossy), "VP8L"
    # (lossless) or "VP8X" (extended: the canvas, also of animations).
    chunk = tf.strings.substr(header, 12, 4)
    lossy = (
        tf.math.floormod(_uint(header, 28, 2), 2.0**14),
        tf.math.floormod(_uint(header, 26, 2), 2.0**14),
    )
    bits = _uint(header, 21, 4)  # 14 bits width - 1, 14 bits height - 1
    lossless = (
        tf.math.floormod(tf.math.floordiv(bits, 2.0**14), 2.0**14) + 1,
        tf.math.floormod(bits, 2.0**14) + 1,
    )
    extended = (_uint(header, 27, 3) + 1, _uint(header, 24, 3) + 1)
    return (
        tf.where(
            chunk == "VP8L",
            lossless[i],
            tf.where(chunk == "VP8X", extended[i], lossy[i]),
        )
        for i in (0, 1)
    )


def _is_webp(data):
    return tf.logical_and(
        tf.strings.substr(data, 0, 4) == b"RIFF",
        tf.strings.substr(data, 8, 4) == b"WEBP",
    )


def header_size(data, what: str = "the image"):
    """The `[height, width]` an encoded image's header claims, not decoding it.

    Reads the same signatures as `tf.io.decode_image`. A JPEG's size is
    `tf.image.extract_jpeg_shape`'s (the frame header, wherever it is); the
    others' sit at fixed offsets of the first 30 bytes.

    Args:
        data: string scalar, the encoded image.
        what: str, how the error message names the image.

    Returns:
        float64 `[2]` (float64 holds any product of two 32-bit sides exactly
        enough to compare with a limit).

    Raises:
        InvalidArgumentError: if `data` is not a JPEG, PNG, GIF, BMP or WebP
            image (or a JPEG without a readable frame header).
    """
    data = tf.convert_to_tensor(data, tf.string)
    header = tf.strings.substr(
        tf.strings.join([data, tf.constant(b"\0" * _HEADER_BYTES)]), 0, _HEADER_BYTES
    )

    def starts(signature):
        return tf.strings.substr(header, 0, len(signature)) == signature

    def jpeg():
        shape = tf.image.extract_jpeg_shape(data)
        return tf.cast(shape[:2], tf.float64)

    def fixed(size_fn):
        return lambda: tf.stack(list(size_fn(header)))

    def unknown():
        check = tf.debugging.Assert(False, [f"{what} is not a {FORMATS} image"])
        with tf.control_dependencies([check]):
            return tf.zeros([2], tf.float64)

    is_webp = _is_webp(header)
    return tf.case(
        [
            (starts(b"\xff\xd8\xff"), jpeg),
            (starts(b"\x89PN"), fixed(_png_size)),
            (starts(b"GIF"), fixed(_gif_size)),
            (starts(b"BM"), fixed(_bmp_size)),
            (is_webp, fixed(_webp_size)),
        ],
        default=unknown,
        exclusive=False,
    )


def assert_pixels(size, max_pixels: int, what: str):
    """An assertion that `size` (`[height, width]`) has at most `max_pixels`.

    Its error reads "<what> 40000x30000 (width x height) pixels, over the
    limit of 134,217,728".
    """
    size = tf.cast(size, tf.float64)  # products of two 32-bit sides
    width_height = tf.strings.format(
        "{}x{}", tuple(tf.cast(size[i], tf.int64) for i in (1, 0))
    )
    message = tf.strings.join(
        [
            f"{what} ",
            width_height,
            f" (width x height) pixels, over the limit of {max_pixels:,}",
        ]
    )
    return tf.debugging.Assert(tf.reduce_prod(size) <= float(max_pixels), [message])


def decode_image(data, max_pixels=MAX_PIXELS, what="the image"):
    """Decodes one encoded image as uint8 RGB, refusing one too large to decode.

    The size comes from the header (`header_size`) before the decoder runs,
    so an image claiming more than `max_pixels` pixels fails without being
    allocated. Grey becomes RGB, alpha is dropped, a GIF or animated WebP
    gives its first frame.

    Args:
        data: string scalar.
        max_pixels: int, the largest `height * width` decoded.
        what: str, how the error messages name the image.

    Returns:
        uint8 `[height, width, 3]`.

    Raises:
        InvalidArgumentError: if `data` is empty, not a whole image of a
            known format, or claims more than `max_pixels` pixels (the
            message gives the claimed size and the limit).
    """
    data = tf.convert_to_tensor(data, tf.string)
    not_empty = tf.debugging.assert_positive(
        tf.strings.length(data), message=f"{what} is an empty string"
    )
    with tf.control_dependencies([not_empty]):
        size = header_size(data, what)
    small_enough = assert_pixels(size, max_pixels, f"{what} claims")
    with tf.control_dependencies([small_enough]):
        # Raises InvalidArgumentError for bytes that are not a whole image
        # (truncated JPEGs included). TensorFlow's WebP decoder refuses
        # channels=3 for a WebP with alpha: it decodes as stored, alpha
        # dropped here.
        image = tf.cond(
            _is_webp(data),
            lambda: tf.io.decode_image(data, expand_animations=False)[..., :3],
            lambda: tf.io.decode_image(data, channels=3, expand_animations=False),
        )
    image.set_shape([None, None, 3])
    return image


def read_image(path) -> np.ndarray:
    """Reads a JPEG / PNG / GIF / BMP / WebP file as RGB (`decode_image`).

    Grey images are repeated to three channels and an alpha channel is
    dropped; an animated GIF gives its first frame.

    Args:
        path: str or path-like.

    Returns:
        float32 array `[height, width, 3]`, RGB in [0, 255].

    Raises:
        ValueError: if the file cannot be read or decoded as an image.
    """
    path = os.fspath(path)
    try:
        data = tf.io.read_file(path)
    except tf.errors.NotFoundError:
        raise ValueError(f"Cannot read image {path!r}: not found.") from None
    try:
        image = decode_image(data)
    except tf.errors.InvalidArgumentError as e:
        raise ValueError(f"Cannot read image {path!r}: {error_text(e)}") from None
    return image.numpy().astype(np.float32)


def error_text(error) -> str:
    """The line of a TensorFlow error that says what went wrong."""
    lines = [line.strip() for line in error.message.splitlines()]
    noise = ("[[", "Graph execution error", "Detected at node", "<stack traces")
    useful = [line for line in lines if line and not line.startswith(noise)]
    line = useful[0] if useful else error.message
    # A failed tf.debugging.Assert reads "assertion failed: [message]".
    if line.startswith("assertion failed: [") and line.endswith("]"):
        line = line[len("assertion failed: [") : -1]
    return line
