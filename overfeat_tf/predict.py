"""`overfeat predict`: images through an exported SavedModel.

The top-k classes of each image (`classify_bytes`) and, for a detector or a
model that localizes, its merged boxes (`detect_bytes`, else
`localize_bytes`); optionally each image drawn with its boxes as a PNG.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from overfeat_tf.images import decode_image, error_text
from overfeat_tf.serving import load_saved_model

__all__ = ["format_prediction", "predict_files"]


def _decoded(out):
    return {
        k: [s.decode() for s in v.numpy()[0]] if v.dtype == tf.string else v.numpy()[0]
        for k, v in out.items()
    }


def predict_files(model, paths, draw_dir=None) -> list[dict]:
    """Classifies (and detects or localizes, where the model can) image files.

    Args:
        model: str. An exported model folder or version folder.
        paths: list of image files (JPEG / PNG / GIF / BMP / WebP).
        draw_dir: str or None. Write `<name>.png` here for each image, with
            its boxes and class names drawn (detecting or localizing models).

    Returns:
        list of dicts, one per file: `file`, `classes`, `scores`,
        `class_names`, and for a detector (its `detect_bytes`) or a
        localizing model (`localize_bytes`) `detection_boxes`
        (normalised `[ymin, xmin, ymax, xmax]`), `detection_scores`,
        `detection_classes`, `detection_class_names` (the first
        `num_detections` of each).

    Raises:
        ValueError: a file that cannot be read or is not a valid image.
    """
    signatures = load_saved_model(model).signatures
    localize = signatures.get("detect_bytes", signatures.get("localize_bytes"))
    results = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                data = tf.constant([f.read()])
        except OSError as e:
            raise ValueError(f"Cannot read image {path!r}: {e.strerror}.") from None
        try:
            result = {
                "file": os.fspath(path),
                **_decoded(signatures["classify_bytes"](image_bytes=data)),
            }
            if localize is not None:
                found = _decoded(localize(image_bytes=data))
                n = int(found.pop("num_detections"))
                result.update({k: v[:n] for k, v in found.items()})
        except tf.errors.InvalidArgumentError as e:
            raise ValueError(f"{path}: {error_text(e)}") from None
        if draw_dir is not None and localize is not None:
            _draw(path, data, result, draw_dir)
        results.append(result)
    return results


def _draw(path, data, result, draw_dir):
    from overfeat_tf.viz import draw_boxes

    image = decode_image(data[0]).numpy()
    names = list(result["detection_class_names"])
    scale = max(1, 256 // max(image.shape[:2]))
    picture = draw_boxes(
        image, result["detection_boxes"], np.arange(len(names)), names, scale=scale
    )
    os.makedirs(draw_dir, exist_ok=True)
    stem = os.path.splitext(os.path.basename(path))[0]
    picture.save(os.path.join(draw_dir, f"{stem}.png"))


def format_prediction(result: dict) -> str:
    """A few lines of text for one of `predict_files`' results."""
    lines = [result["file"]]
    for rank, (name, score) in enumerate(
        zip(result["class_names"], result["scores"], strict=True)
    ):
        lines.append(f"  {rank + 1}. {name:<24s} {score:.4f}")
    if "detection_boxes" in result:
        lines.append(
            "  boxes (ymin, xmin, ymax, xmax of the image, score: summed votes):"
        )
        for box, name, score in zip(
            result["detection_boxes"],
            result["detection_class_names"],
            result["detection_scores"],
            strict=True,
        ):
            edges = ", ".join(f"{v:.3f}" for v in box)
            lines.append(f"     {name:<24s} [{edges}]  {score:.3f}")
    return "\n".join(lines)
