"""`overfeat predict`: images through an exported SavedModel.

The top-k classes of each image (`classify_bytes`) and, for a detector or a
model that localizes, its merged boxes (`detect_bytes`, else
`localize_bytes`); optionally each image drawn with its boxes as a PNG.
"""

from __future__ import annotations

import glob
import json
import os
import time

import numpy as np
import tensorflow as tf

from overfeat_tf.files import atomic_file
from overfeat_tf.images import decode_image, error_text
from overfeat_tf.serving import load_saved_model

__all__ = [
    "format_prediction",
    "image_files",
    "predict_bytes",
    "predict_each",
    "predict_files",
    "predict_to",
    "to_json",
]


def _split(out) -> list[dict]:
    """A signature's batched outputs as one dict of NumPy values per image."""
    out = {
        k: np.vectorize(bytes.decode, otypes=[object])(v.numpy())
        if v.dtype == tf.string
        else v.numpy()
        for k, v in out.items()
    }
    count = len(next(iter(out.values())))
    return [{k: v[i] for k, v in out.items()} for i in range(count)]


def predict_bytes(signatures, images) -> list[dict]:
    """Runs encoded images through a loaded model's bytes signatures.

    Args:
        signatures: the `signatures` of a loaded export
            (`overfeat_tf.serving.load_saved_model`).
        images: list of encoded images (bytes), run as one batch.

    Returns:
        list of dicts, one per image: `classes`, `scores`, `class_names`
        (`classify_bytes`), and for a detector (its `detect_bytes`) or a
        localizing model (`localize_bytes`) `detection_boxes` (normalised
        `[ymin, xmin, ymax, xmax]`), `detection_scores`,
        `detection_classes`, `detection_class_names` (the first
        `num_detections` of each).

    Raises:
        tf.errors.InvalidArgumentError: an image of the batch is not a valid
            image (the whole batch fails).
    """
    data = tf.constant(list(images), tf.string)
    results = _split(signatures["classify_bytes"](image_bytes=data))
    localize = signatures.get("detect_bytes", signatures.get("localize_bytes"))
    if localize is not None:
        for result, found in zip(
            results, _split(localize(image_bytes=data)), strict=True
        ):
            n = int(found.pop("num_detections"))
            result.update({k: v[:n] for k, v in found.items()})
    return results


def predict_each(signatures, images) -> list[dict]:
    """`predict_bytes` on a batch; if an image of it is not valid, on each
    image alone, an invalid one answered with `{"error": ...}` (the rest of
    the batch is not lost)."""
    try:
        return predict_bytes(signatures, images)
    except tf.errors.InvalidArgumentError:
        pass
    results = []
    for data in images:
        try:
            results += predict_bytes(signatures, [data])
        except tf.errors.InvalidArgumentError as e:
            results.append({"error": error_text(e)})
    return results


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp")


def image_files(inputs) -> list[str]:
    """The files that `overfeat predict`'s arguments name: a file as it is,
    a folder's images (by suffix, sorted), a glob's matches (sorted).

    Raises:
        ValueError: an argument that names nothing.
    """
    files = []
    for arg in inputs:
        arg = os.fspath(arg)
        if os.path.isdir(arg):
            found = sorted(
                os.path.join(arg, name)
                for name in os.listdir(arg)
                if name.lower().endswith(IMAGE_SUFFIXES)
            )
        elif glob.has_magic(arg):
            found = sorted(glob.glob(arg))
        else:
            found = [arg]
        if not found:
            raise ValueError(f"No image in {arg!r}.")
        files += found
    return files


def predict_files(
    model, paths, draw_dir=None, batch_size=1, keep_errors=False, progress=False
) -> list[dict]:
    """Classifies (and detects or localizes, where the model can) image files.

    Args:
        model: str. An exported model folder or version folder.
        paths: list of image files (JPEG / PNG / GIF / BMP / WebP).
        draw_dir: str or None. Write `<name>.png` here for each image, with
            its boxes and class names drawn (detecting or localizing models).
        batch_size: int. Images per call of the model.
        keep_errors: bool. Answer a file that cannot be read or decoded
            with `{"file": ..., "error": ...}` instead of raising.
        progress: bool. A progress bar (tqdm) on standard error, where it
            is a terminal.

    Returns:
        list of dicts, one per file: `file`, then `predict_bytes`' fields.

    Raises:
        ValueError: a file that cannot be read or is not a valid image
            (unless `keep_errors`).
    """
    from tqdm import tqdm

    signatures = load_saved_model(model).signatures
    results = []
    bar = tqdm(total=len(paths), unit="image", disable=None if progress else True)
    with bar:
        for start in range(0, len(paths), batch_size):
            chunk = [os.fspath(path) for path in paths[start : start + batch_size]]
            found = {}  # by position in the chunk: answers keep the files' order
            batch = []
            for i, path in enumerate(chunk):
                try:
                    with open(path, "rb") as f:
                        batch.append((i, f.read()))
                except OSError as e:
                    error = f"Cannot read image {path!r}: {e.strerror}."
                    if not keep_errors:
                        raise ValueError(error) from None
                    found[i] = {"file": path, "error": error}
            answers = predict_each(signatures, [data for _, data in batch])
            for (i, data), answer in zip(batch, answers, strict=True):
                if "error" in answer and not keep_errors:
                    raise ValueError(f"{chunk[i]}: {answer['error']}")
                found[i] = {"file": chunk[i], **answer}
                if draw_dir is not None and "detection_boxes" in answer:
                    _draw(chunk[i], data, found[i], draw_dir)
            results += [found[i] for i in range(len(chunk))]
            bar.update(len(chunk))
    return results


def predict_to(model, inputs, output=None, draw_dir=None, batch_size=8, log=None):
    """`overfeat predict`: the images that `inputs` name (`image_files`)
    through the model, in batches, with a progress bar.

    Prints each image's classes (and boxes), or with `output` writes them
    there as JSON lines (`to_json`; written whole or not at all), a file
    that cannot be read or decoded getting an `error` line. Then the images
    per second to `log` (a text stream; None: none).

    Returns:
        list of dicts: `predict_files`' results.

    Raises:
        ValueError: an argument that names no image; without `output`, a
            file that cannot be read or decoded.
    """
    paths = image_files(inputs)
    start = time.perf_counter()
    results = predict_files(
        model,
        paths,
        draw_dir,
        batch_size,
        keep_errors=output is not None,
        progress=True,
    )
    elapsed = time.perf_counter() - start
    if output is None:
        for result in results:
            print(format_prediction(result))
    else:
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        with atomic_file(output) as partial, open(partial, "w") as f:
            f.writelines(to_json(result) + "\n" for result in results)
    if log is not None:
        failed = sum("error" in result for result in results)
        print(
            f"{len(paths)} images ({failed} unreadable) in {elapsed:.1f} s: "
            f"{len(paths) / elapsed:.1f} images/s",
            file=log,
        )
    return results


def to_json(result: dict) -> str:
    """One result of `predict_bytes` / `predict_files` as a line of JSON."""
    return json.dumps(
        {
            k: v.tolist() if isinstance(v, np.ndarray | np.generic) else v
            for k, v in result.items()
        }
    )


def _draw(path, data, result, draw_dir):
    from overfeat_tf.viz import draw_boxes

    image = decode_image(data).numpy()
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
