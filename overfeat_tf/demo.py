"""`overfeat demo`: the main job on a fresh machine, about 14 minutes on 2 CPU cores.

1. builds the embedded `fashion_scenes/classification` dataset (offline),
2. trains the small accurate network on it (`fashion_small` preset),
3. exports it as a SavedModel under `saved_models/fashion_demo/<version>`,
4. classifies the test split (scenes, items and photographs never seen in
   training) through the exported SavedModel's multi-scale `classify_images`
   signature and prints top-1 / top-5 accuracy.
"""

from __future__ import annotations

import os
import sys
import time

import keras

from overfeat_tf.config import apply_overrides, get_config
from overfeat_tf.data.pipeline import load_split
from overfeat_tf.model_dir import load_model_dir
from overfeat_tf.serving import export_saved_model, load_saved_model
from overfeat_tf.train import train_classifier

__all__ = ["evaluate_saved_model", "run_demo"]


def evaluate_saved_model(path, dataset, batch_size: int = 50, progress=True) -> dict:
    """Top-1 / top-5 accuracy of an exported model on a dataset of same-size images.

    Args:
        path: str. SavedModel (version folder or model folder).
        dataset: `tf.data.Dataset` of TFDS examples with `image` and `label`.
        batch_size: int.

    Returns:
        dict: `top1`, `top5`, `examples`, `seconds`.
    """
    serving = load_saved_model(path).signatures["classify_images"]
    batches = dataset.batch(batch_size)
    total = top1 = top5 = 0
    start = time.perf_counter()
    bar = keras.utils.Progbar(None, verbose=1 if progress else 0, unit_name="image")
    for batch in batches:
        out = serving(images=batch["image"])
        classes = out["classes"].numpy()
        labels = batch["label"].numpy()[:, None]
        top1 += int((classes[:, :1] == labels).sum())
        top5 += int((classes[:, :5] == labels).any(axis=1).sum())
        total += len(labels)
        bar.update(total)
    seconds = time.perf_counter() - start
    return {
        "top1": top1 / total,
        "top5": top5 / total,
        "examples": total,
        "seconds": seconds,
    }


def run_demo(
    out_root="saved_models", run_dir="runs/fashion_demo", data_dir=None, overrides=()
) -> dict:
    """Trains, exports and evaluates; see the module docstring.

    Returns:
        dict: the test metrics plus `saved_model` and `seconds`.
    """
    start = time.perf_counter()
    config = get_config("fashion_small")
    config.run.out_dir = run_dir
    config.data.data_dir = data_dir
    config.train.verbose = 1 if sys.stdout.isatty() else 2
    apply_overrides(config, overrides)
    print(
        f"[1/3] Training {config.model.arch} on {config.data.dataset} "
        f"({config.train.epochs} epochs)",
        flush=True,
    )
    result = train_classifier(config)
    model = result["model"]
    _, names = load_model_dir(result["model_dir"])
    print("[2/3] Exporting the SavedModel", flush=True)
    path = export_saved_model(
        model, os.path.join(out_root, "fashion_demo"), names, config
    )
    print(f"      {path}")
    export = config.export
    scales = "all" if export.scales is None else len(export.scales)
    flips = " x 2 flips" if export.flips else ""
    stride = "fine" if export.fine else "coarse"
    print(
        f"[3/3] Classifying the test split through the SavedModel "
        f"({scales} scales{flips}, {stride} stride)",
        flush=True,
    )
    test, _ = load_split(config.data.dataset, "test", data_dir)
    metrics = evaluate_saved_model(path, test, progress=config.train.verbose == 1)
    metrics.update(saved_model=path, seconds=time.perf_counter() - start)
    print(
        f"\nTest split ({metrics['examples']} images): top-1 {metrics['top1']:.1%}, "
        f"top-5 {metrics['top5']:.1%}  (chance: 10% / 50%)\n"
        f"SavedModel: {path}\nTotal time: {metrics['seconds']:.0f} s"
    )
    return metrics
