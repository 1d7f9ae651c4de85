"""`overfeat demo`: the paper's integrated pipeline on the embedded data.

The main job on a fresh machine (about 90 minutes on 2 CPU cores):

1. classification pretraining: the small accurate network on
   `fashion_scenes/classification` (the `fashion_small` preset; TFDS builds
   the embedded datasets offline on first use);
2. detection fine-tuning: the same network with a background class and its
   box regressor, trained densely on whole `fashion_scenes/detection`
   scenes from the classifier (the `fashion_detect` preset; paper 5), so
   the regressor learns on the detection data, as the paper trains it;
3. one SavedModel with every signature (`classify_*`, `localize_*`,
   `detect_*`, `features`; `serving_default` is `classify_bytes`) as the
   next version of `saved_models/fashion_demo`;
4. each task evaluated through that SavedModel on its test split (scenes,
   items and photographs never seen in training): classification top-1 /
   top-5 (`classify_images`), ILSVRC localization error (`localize_images`),
   COCO AP50 of the greedy merge (`detect_images`), beside the same
   network's detections suppressed by NMS instead (`MultiScaleDetector`,
   the SavedModel's code, in Python);
5. one table of the results, and contact sheets of annotated test scenes in
   `<run dir>/pictures`; the measures and each step's seconds also go to
   `<run dir>/metrics.json`, to compare runs.
"""

from __future__ import annotations

import json
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from overfeat_tf.config import apply_overrides, get_config
from overfeat_tf.data.pipeline import load_split
from overfeat_tf.eval.detection import evaluate_detect_signature, evaluate_detector
from overfeat_tf.eval.localization import evaluate_localizer, localize_signature
from overfeat_tf.files import atomic_file
from overfeat_tf.model_dir import load_model_dir
from overfeat_tf.ops.detect import MultiScaleDetector
from overfeat_tf.serving import export_saved_model, load_saved_model
from overfeat_tf.train import train_classifier, train_detector
from overfeat_tf.train.tasks import dataset_class_names
from overfeat_tf.viz import contact_sheet, draw_boxes

__all__ = ["DEMO_SPLITS", "evaluate_classify_signature", "format_table", "run_demo"]

# The test split of each task: (task, dataset).
DEMO_SPLITS = (
    ("classify", "fashion_scenes/classification"),
    ("localize", "fashion_scenes/localization"),
    ("detect", "fashion_scenes/detection"),
)
PICTURES = 16  # test scenes per contact sheet
DRAWN_DETECTIONS = 6  # at most, per scene: the detection scenes hold 0-6 items
METRICS_FILE = "metrics.json"  # in the run folder


def evaluate_classify_signature(
    classify_images, dataset, batch_size: int = 50, progress=True
) -> dict:
    """Top-1 / top-5 accuracy of an exported model on a dataset of same-size images.

    Args:
        classify_images: the SavedModel's `classify_images` signature.
        dataset: `tf.data.Dataset` of TFDS examples with `image` and `label`.
        batch_size: int.

    Returns:
        dict: `top1`, `top5`, `examples`, `seconds`.
    """
    batches = dataset.batch(batch_size)
    total = top1 = top5 = 0
    start = time.perf_counter()
    bar = keras.utils.Progbar(None, verbose=1 if progress else 0, unit_name="image")
    for batch in batches:
        out = classify_images(images=batch["image"])
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


def _configs(run_dir, data_dir, overrides):
    """The classifier's and the detector's configs: the two presets, written
    to `run_dir` (the detector to `run_dir/detect`, from the classifier
    there), with the same `--set` overrides applied to both."""
    verbose = 1 if sys.stdout.isatty() else 2
    configs = []
    for preset in ("fashion_small", "fashion_detect"):
        config = get_config(preset)
        config.run.out_dir = run_dir
        config.data.data_dir = data_dir
        config.train.verbose = verbose
        if preset == "fashion_detect":
            config.detect.init_from = run_dir
        configs.append(apply_overrides(config, overrides))
    return configs


def _evaluate(signatures, model, export, data_dir, progress, limit=None):
    """Each task through the SavedModel's `signatures` on its test split
    (module docstring)."""
    tests = {}
    for task, name in DEMO_SPLITS:
        test, _ = load_split(name, "test", data_dir)
        tests[task] = test if limit is None else test.take(limit)
    out = {
        "classify": evaluate_classify_signature(
            signatures["classify_images"], tests["classify"], progress=progress
        )
    }
    out["localize"] = evaluate_localizer(
        localize_signature(signatures["localize_images"]), tests["localize"]
    )
    objects = model.num_object_classes
    merge = evaluate_detect_signature(
        signatures["detect_images"], tests["detect"], objects
    )
    nms = evaluate_detector(
        MultiScaleDetector.from_export(model, export, method="nms"),
        tests["detect"],
        methods=("nms",),
        max_detections=export.max_detections,
    )
    out["detect"] = {"merge": merge, "nms": nms["nms"], "examples": nms["examples"]}
    return out


def format_table(metrics: dict) -> str:
    """The demo's results as one Markdown table."""
    c, loc, det = metrics["classify"], metrics["localize"], metrics["detect"]
    rows = [
        (
            "classification",
            "top-1 / top-5 accuracy",
            f"{c['top1']:.1%} / {c['top5']:.1%}",
        ),
        (
            "localization",
            "error top-1 / top-5 (IoU 0.5, class right)",
            f"{loc['error_top1']:.1%} / {loc['error_top5']:.1%}",
        ),
        (
            "detection",
            "AP50 greedy merge / NMS",
            f"{det['merge']['AP50']:.3f} / {det['nms']['AP50']:.3f}",
        ),
        (
            "detection",
            "AP (IoU 0.50:0.95) merge / NMS",
            f"{det['merge']['AP']:.3f} / {det['nms']['AP']:.3f}",
        ),
    ]
    lines = ["| task | measure (test split) | result |", "| --- | --- | --- |"]
    lines += [f"| {task} | {what} | {value} |" for task, what, value in rows]
    return "\n".join(lines)


def _pictures(signatures, data_dir, out_dir, count=PICTURES):
    """Contact sheets of test scenes annotated by the SavedModel: its top-1
    class (classification), its best box (localization), its boxes scoring
    at least a third of the best, six at most (detection); the true classes
    in the captions."""
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for task, dataset in DEMO_SPLITS:
        test, _ = load_split(dataset, "test", data_dir)
        names = dataset_class_names(dataset, data_dir)
        pictures, captions = [], []
        for example in test.take(count):
            image = example["image"].numpy()
            if task == "classify":
                out = signatures["classify_images"](images=tf.constant(image[None]))
                guess = out["class_names"][0, 0].numpy().decode()
                pictures.append(draw_boxes(image, scale=2))
                captions.append(f"{guess} ({names[int(example['label'])]})")
                continue
            out = signatures[f"{task}_images"](images=tf.constant(image[None]))
            n = int(out["num_detections"][0])
            scores = out["detection_scores"][0, :n].numpy()
            if task == "localize":
                keep = [0] if n else []
            else:  # scores are sorted: the best boxes scoring a third of the top
                keep = np.flatnonzero(scores >= scores[:1].max(initial=0) / 3)
                keep = keep[:DRAWN_DETECTIONS]
            pictures.append(
                draw_boxes(
                    image,
                    out["detection_boxes"][0].numpy()[keep],
                    out["detection_classes"][0].numpy()[keep],
                    names,
                    scale=2,
                )
            )
            truth = example["objects"]["label"].numpy()
            captions.append(", ".join(names[int(t)] for t in truth) or "(no item)")
        file = os.path.join(out_dir, f"{task}.png")
        contact_sheet(pictures, columns=4, captions=captions).save(file)
        written.append(file)
    return written


def run_demo(
    out_root="saved_models",
    run_dir="runs/fashion_demo",
    data_dir=None,
    overrides=(),
    limit=None,
) -> dict:
    """Trains, exports and evaluates; see the module docstring.

    Args:
        out_root: str. The SavedModel goes to `<out_root>/fashion_demo/<n>`.
        run_dir: str. Training runs, and `pictures/`.
        data_dir: str or None. TFDS data dir.
        overrides: `key=value` strings applied to both presets' configs.
        limit: int or None. Evaluate the first `limit` scenes of each test
            split only (None: all of them).

    Returns:
        dict: `classify`, `localize`, `detect` (each task's measures),
        `saved_model`, `pictures` (files), `table`, `stages` (seconds of
        each step: `classify`, `detect`, `export`, `evaluate`, `pictures`),
        `seconds`; written to `<run_dir>/metrics.json` as well.
    """
    start = time.perf_counter()
    stages = {}
    last = start

    def lap(stage):  # seconds since the previous stage ended
        nonlocal last
        now = time.perf_counter()
        stages[stage], last = now - last, now

    classify, detect = _configs(run_dir, data_dir, overrides)
    print(
        f"[1/5] Classification: training {classify.model.arch} on "
        f"{classify.data.dataset} ({classify.train.epochs} epochs)",
        flush=True,
    )
    train_classifier(classify)
    lap("classify")
    print(
        f"[2/5] Detection: fine-tuning it with a background class and its box "
        f"regressor on {detect.data.dataset} ({detect.train.epochs} epochs)",
        flush=True,
    )
    result = train_detector(detect)
    lap("detect")
    model = result["model"]
    _, names = load_model_dir(result["model_dir"])
    print("[3/5] Exporting one SavedModel (classify, localize, detect)", flush=True)
    path = export_saved_model(
        model, os.path.join(out_root, "fashion_demo"), names, detect
    )
    lap("export")
    print(f"      {path}")
    export = detect.export
    scales = "all" if export.scales is None else len(export.scales)
    flips = " x 2 flips" if export.flips else ""
    stride = "fine" if export.fine else "coarse"
    print(
        f"[4/5] Evaluating each task through the SavedModel on its test split "
        f"({scales} scales{flips}, {stride} stride)",
        flush=True,
    )
    signatures = load_saved_model(path).signatures
    metrics = _evaluate(
        signatures, model, export, data_dir, detect.train.verbose == 1, limit
    )
    lap("evaluate")
    pictures = os.path.join(run_dir, "pictures")
    print(f"[5/5] Drawing test scenes into {pictures}", flush=True)
    metrics["pictures"] = _pictures(signatures, data_dir, pictures)
    lap("pictures")
    counts = ", ".join(f"{metrics[task]['examples']} {task}" for task, _ in DEMO_SPLITS)
    metrics.update(
        saved_model=path,
        table=format_table(metrics),
        stages=stages,
        seconds=time.perf_counter() - start,
    )
    # Every measure is a plain float or int already (`overfeat evaluate
    # --json` prints the same dicts).
    measures = os.path.join(run_dir, METRICS_FILE)
    with atomic_file(measures) as tmp:
        with open(tmp, "w") as f:
            json.dump(metrics, f, indent=1)
    times = ", ".join(f"{stage} {seconds:.0f} s" for stage, seconds in stages.items())
    print(
        f"\nTest splits ({counts} images):\n{metrics['table']}\n"
        f"SavedModel: {path}\nTotal time: {metrics['seconds']:.0f} s ({times})\n"
        f"Measures: {measures}"
    )
    return metrics
