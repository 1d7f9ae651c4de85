"""Drawing boxes and labels on images (PNG files, contact sheets)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["contact_sheet", "draw_boxes"]

_COLOURS = [
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
]  # fmt: skip


def draw_boxes(image, boxes=(), labels=(), names=None, scale: int = 1) -> Image.Image:
    """Draws boxes and their class names on an image.

    Args:
        image: uint8 array `[h, w, 3]`.
        boxes: float array `[n, 4]`, `[ymin, xmin, ymax, xmax]` normalised to
            [0, 1] of the image.
        labels: int array `[n]`: class of each box (colour and name).
        names: list of str, class names; None shows the class number.
        scale: int. Enlarge the picture this many times (small images).

    Returns:
        `PIL.Image.Image`.
    """
    picture = Image.fromarray(np.asarray(image, np.uint8))
    if scale != 1:
        picture = picture.resize(
            (picture.width * scale, picture.height * scale), Image.NEAREST
        )
    draw = ImageDraw.Draw(picture)
    h, w = picture.height, picture.width
    for box, label in zip(
        np.reshape(boxes, (-1, 4)), np.reshape(labels, (-1,)), strict=True
    ):
        colour = _COLOURS[int(label) % len(_COLOURS)]
        y0, x0, y1, x1 = box * [h, w, h, w]
        draw.rectangle([x0, y0, x1 - 1, y1 - 1], outline=colour, width=max(1, scale))
        text = names[int(label)] if names else str(int(label))
        draw.text((x0 + 2, y0 + 1), text, fill=colour)
    return picture


def contact_sheet(pictures, columns: int = 4, captions=None) -> Image.Image:
    """Lays pictures out on a grid, with an optional caption under each.

    Args:
        pictures: list of `PIL.Image.Image` (sizes may differ).
        columns: int.
        captions: list of str or None.

    Returns:
        `PIL.Image.Image`.
    """
    if not pictures:
        raise ValueError("A contact sheet needs at least one picture.")
    cell_w = max(p.width for p in pictures) + 8
    cell_h = max(p.height for p in pictures) + (22 if captions else 8)
    rows = -(-len(pictures) // columns)
    sheet = Image.new("RGB", (columns * cell_w, rows * cell_h), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, picture in enumerate(pictures):
        x, y = (i % columns) * cell_w + 4, (i // columns) * cell_h + 4
        sheet.paste(picture, (x, y))
        if captions:
            draw.text((x, y + picture.height + 2), captions[i], fill=(0, 0, 0))
    return sheet
