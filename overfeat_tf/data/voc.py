"""Reading Pascal VOC XML annotations (NEON trees, ILSVRC boxes, your own)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np

__all__ = ["parse_voc"]

_EDGES = ("ymin", "xmin", "ymax", "xmax")


def _edge(obj, index: int, key: str) -> float:
    """One `bndbox` edge of the `index`-th object, or a ValueError naming it."""
    box = obj.find("bndbox")
    node = None if box is None else box.find(key)
    if node is None or not (node.text or "").strip():
        raise ValueError(f"object {index} has no bndbox/{key}")
    try:
        return float(node.text)
    except ValueError:
        raise ValueError(
            f"object {index}: bndbox/{key} {node.text.strip()!r} is not a number"
        ) from None


def _size(root):
    """(height, width) of `<size>`, None where it or an edge is missing or
    empty (a labelling tool's blank `<size>`).

    Raises:
        ValueError: if a given height or width is not a number.
    """
    size = root.find("size")
    if size is None:
        return None
    texts = [(size.findtext(k) or "").strip() for k in ("height", "width")]
    if not all(texts):
        return None
    try:
        return tuple(int(float(t)) for t in texts)
    except ValueError:
        raise ValueError(
            f"<size> height {texts[0]!r}, width {texts[1]!r}: not numbers"
        ) from None


def parse_voc(source, dtype=np.float32) -> dict:
    """The objects of a Pascal VOC XML annotation.

    Args:
        source: a path, or a file object with the XML.

    Returns:
        dict: `boxes` `[n, 4]` `[ymin, xmin, ymax, xmax]` in pixels, of
        `dtype` (float32 by default), `names` list of str (each object's
        `<name>`), `size` (height, width) from `<size>` (None where the
        file has none or leaves it blank), `filename` str or None
        (`<filename>`), in file order.

    Raises:
        ValueError: if an object lacks a `bndbox` edge or one is not a
            number (the message names the object, counted from 0), or a
            `<size>` edge is not a number;
        xml.etree.ElementTree.ParseError: if `source` is not XML.
    """
    root = ET.parse(source).getroot()
    boxes, names = [], []
    for index, obj in enumerate(root.iter("object")):
        boxes.append([_edge(obj, index, k) for k in _EDGES])
        name = obj.find("name")
        names.append(name.text.strip() if name is not None and name.text else "")
    hw = _size(root)
    node = root.find("filename")
    filename = node.text.strip() if node is not None and node.text else None
    return {
        "boxes": np.asarray(boxes, dtype).reshape(-1, 4),
        "names": names,
        "size": hw,
        "filename": filename or None,
    }
