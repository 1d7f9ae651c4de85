"""Reading Pascal VOC XML annotations (NEON trees, ILSVRC boxes)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np

__all__ = ["parse_voc"]


def parse_voc(source) -> dict:
    """The objects of a Pascal VOC XML annotation.

    Args:
        source: a path, or a file object with the XML.

    Returns:
        dict: `boxes` float32 `[n, 4]` `[ymin, xmin, ymax, xmax]` in pixels,
        `names` list of str (each object's `<name>`), `size` (height, width)
        from `<size>` (None where the file has none), in file order.
    """
    root = ET.parse(source).getroot()
    boxes, names = [], []
    for obj in root.iter("object"):
        b = obj.find("bndbox")
        boxes.append([float(b.find(k).text) for k in ("ymin", "xmin", "ymax", "xmax")])
        name = obj.find("name")
        names.append(name.text.strip() if name is not None and name.text else "")
    size = root.find("size")
    hw = None
    if size is not None and size.find("height") is not None:
        hw = (int(float(size.find("height").text)), int(float(size.find("width").text)))
    return {
        "boxes": np.asarray(boxes, np.float32).reshape(-1, 4),
        "names": names,
        "size": hw,
    }
