"""`overfeat demo`: the paper's integrated pipeline on the embedded data.

The main job on a fresh machine, in about 10 minutes on 2 CPU cores:

0. the embedded `fashion_scenes` datasets, built into the TFDS data dir
   offline on first use;
1. classification pretraining: the small accurate network on
   `fashion_scenes/classification` (the `fashion_small` preset);
2. detection fine-tuning: the same network with a background class and its
   box regressor, trained densely on whole `fashion_scenes/detection`
   scenes from the classifier (the `fashion_detect` preset; paper 5), so
   the regressor learns on the detection data, as the paper trains it;
3. one SavedModel with every signature (`classify_*`, `localize_*`,
   `detect_*`, `features`; `serving_default` is `classify_bytes`);
4. each task evaluated through that SavedModel on its test split (scenes,
   items and photographs never seen in training): classification top-1 /
   top-5 (`classify_images`), ILSVRC localization error (`localize_images`),
   COCO AP50 of the greedy merge (`detect_images`), beside the same
   network's detections suppressed by NMS instead (`MultiScaleDetector`,
   the SavedModel's code, in Python);
5. the committed `saved_models/fashion_demo`, the full recipe's model,
   evaluated the same way on the same scenes;
6. one table of both, and contact sheets of annotated test scenes in
   `<run dir>/pictures` (`overview.png` and, of the committed model,
   `committed.png`: four localized and four detected scenes); the measures
   and each stage's seconds also go to `<run dir>/metrics.json`, to compare
   runs.

By default the schedule is cut to fit the 10 minutes (`QUICK`: 8
classifier epochs, 200 detector steps) and each test split to its first
`QUICK_LIMIT` scenes; the SavedModel goes into the run folder, so the
committed versions stay what TF Serving loads. `full=True` (`overfeat demo
--full`) is the recipe that made the committed model, unchanged: both
presets' schedules (about 80 minutes of training), whole test splits, the
SavedModel as the next version of `saved_models/fashion_demo`.
"""

from __future__ import annotations

import json
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from overfeat_tf.config import apply_overrides, get_config
from overfeat_tf.data.pipeline import load_split
from overfeat_tf.eval.detection import evaluate_detect_signature, evaluate_detector
from overfeat_tf.eval.localization import evaluate_localizer, localize_signature
from overfeat_tf.files import atomic_file
from overfeat_tf.model_dir import load_model_dir
from overfeat_tf.ops.detect import MultiScaleDetector
from overfeat_tf.serving import (
    export_saved_model,
    load_exported_network,
    load_saved_model,
    saved_model_path,
)
from overfeat_tf.train import train_classifier, train_detector
from overfeat_tf.train.tasks import dataset_class_names
from overfeat_tf.viz import contact_sheet, draw_boxes

__all__ = [
    "COMMITTED",
    "DEMO_SPLITS",
    "QUICK",
    "QUICK_LIMIT",
    "evaluate_classify_signature",
    "evaluate_exported",
    "format_table",
    "run_demo",
]

# The test split of each task: (task, dataset).
DEMO_SPLITS = (
    ("classify", "fashion_scenes/classification"),
    ("localize", "fashion_scenes/localization"),
    ("detect", "fashion_scenes/detection"),
)
# The full recipe's model, evaluated beside the run's.
COMMITTED = "saved_models/fashion_demo"
# The 10-minute schedule: overrides of each preset's config (the rest of
# the recipe unchanged). 8 classifier epochs (of the preset's 64; the decay
# of the last two kept) and 200 detector steps of 16 scenes (3,200 of the
# 6,000 training scenes; the full recipe runs 16 epochs of 375 steps).
QUICK = {
    "fashion_small": ("train.epochs=8", "train.lr_decay_epochs=[6]"),
    "fashion_detect": (
        "train.epochs=2",
        "train.steps_per_epoch=100",
        "train.lr_decay_epochs=[]",
        "train.validation_steps=4",
    ),
}
QUICK_LIMIT = 50  # test scenes per split in the quick demo
PICTURES = 16  # test scenes per contact sheet
OVERVIEW = 4  # localized and detected scenes in overview.png
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


def _configs(run_dir, data_dir, overrides, quick: bool):
    """The classifier's and the detector's configs: the two presets, written
    to `run_dir` (the detector to `run_dir/detect`, from the classifier
    there), cut to `QUICK` if `quick`, then the same `--set` overrides
    applied to both."""
    verbose = 1 if sys.stdout.isatty() else 2
    configs = []
    for preset in ("fashion_small", "fashion_detect"):
        config = get_config(preset)
        config.run.out_dir = run_dir
        config.data.data_dir = data_dir
        config.train.verbose = verbose
        if preset == "fashion_detect":
            config.detect.init_from = run_dir
        if quick:
            apply_overrides(config, QUICK[preset])
        configs.append(apply_overrides(config, overrides))
    return configs


def evaluate_exported(
    path, data_dir=None, limit=None, progress=True, model=None, export=None
) -> dict:
    """Each task through an exported detector's signatures on its test split.

    Classification top-1 / top-5 (`classify_images`), localization error
    (`localize_images`), AP of the greedy merge (`detect_images`), and AP of
    the same network's cells suppressed by NMS instead (`MultiScaleDetector`
    in Python, the SavedModel's code with `method="nms"`).

    Args:
        path: str. A SavedModel of a detector with its regressor (a version
            folder, or a model folder: its latest version).
        data_dir: str or None. TFDS data dir.
        limit: int or None. The first `limit` scenes of each split only.
        progress: bool. Progress bars.
        model, export: the Keras network and its `ExportConfig`, if at hand
            (default: built again from the SavedModel).

    Returns:
        dict: `classify`, `localize`, `detect` (`merge`, `nms`, `examples`).
    """
    signatures = load_saved_model(path).signatures
    if model is None:
        model, _, config = load_exported_network(path)
        export = config.export
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
        localize_signature(signatures["localize_images"]),
        tests["localize"],
        progress=progress,
    )
    objects = model.num_object_classes
    merge = evaluate_detect_signature(
        signatures["detect_images"], tests["detect"], objects, progress
    )
    nms = evaluate_detector(
        MultiScaleDetector.from_export(model, export, method="nms"),
        tests["detect"],
        methods=("nms",),
        max_detections=export.max_detections,
        progress=progress,
    )
    out["detect"] = {"merge": merge, "nms": nms["nms"], "examples": nms["examples"]}
    return out


def format_table(rows) -> str:
    """Rows of `evaluate_exported` measures as one Markdown table.

    Args:
        rows: list of (name, measures) pairs, one row each.
    """
    lines = [
        "| model | classification top-1 / top-5 | localization error top-1 / "
        "top-5 | detection AP50 merge / NMS | AP merge / NMS |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, m in rows:
        c, loc, det = m["classify"], m["localize"], m["detect"]
        cells = (
            name,
            f"{c['top1']:.1%} / {c['top5']:.1%}",
            f"{loc['error_top1']:.1%} / {loc['error_top5']:.1%}",
            f"{det['merge']['AP50']:.3f} / {det['nms']['AP50']:.3f}",
            f"{det['merge']['AP']:.3f} / {det['nms']['AP']:.3f}",
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _annotated(signatures, data_dir, task, count, scale=2):
    """Test scenes of `task` annotated by the SavedModel: its top-1 class
    (classification), its best box (localization), its boxes scoring at
    least a third of the best, six at most (detection); the true classes in
    the captions. Returns (pictures, captions)."""
    dataset = dict(DEMO_SPLITS)[task]
    test, _ = load_split(dataset, "test", data_dir)
    names = dataset_class_names(dataset, data_dir)
    pictures, captions = [], []
    for example in test.take(count):
        image = example["image"].numpy()
        if task == "classify":
            out = signatures["classify_images"](images=tf.constant(image[None]))
            guess = out["class_names"][0, 0].numpy().decode()
            pictures.append(draw_boxes(image, scale=scale))
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
                scale=scale,
            )
        )
        truth = example["objects"]["label"].numpy()
        captions.append(", ".join(names[int(t)] for t in truth) or "(no item)")
    return pictures, captions


def _pictures(signatures, data_dir, out_dir, count=PICTURES):
    """Contact sheets of `count` annotated test scenes per task
    (`<task>.png`, `_annotated`), and `overview.png` (`_overview`)."""
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for task, _ in DEMO_SPLITS:
        pictures, captions = _annotated(signatures, data_dir, task, count)
        file = os.path.join(out_dir, f"{task}.png")
        contact_sheet(pictures, columns=4, captions=captions).save(file)
        written.append(file)
    return [*written, _overview(signatures, data_dir, out_dir, "overview.png")]


def _overview(signatures, data_dir, out_dir, name):
    """`<out_dir>/<name>`: the first `OVERVIEW` localized and detected test
    scenes at their own size, as the SavedModel's `signatures` annotate
    them (`_annotated`)."""
    pictures, captions = [], []
    for task in ("localize", "detect"):
        more, words = _annotated(signatures, data_dir, task, OVERVIEW, scale=1)
        pictures += more
        captions += words
    file = os.path.join(out_dir, name)
    contact_sheet(pictures, columns=OVERVIEW, captions=captions).save(file)
    return file


def run_demo(
    out_root=None,
    run_dir=None,
    data_dir=None,
    overrides=(),
    limit=None,
    full: bool = False,
    committed=COMMITTED,
) -> dict:
    """Builds the data, trains, exports and evaluates; see the module docstring.

    Args:
        out_root: str or None. The SavedModel goes to
            `<out_root>/fashion_demo/<n>` (default: `<run_dir>/saved_models`,
            and `saved_models` with `full`).
        run_dir: str or None. Training runs, `pictures/` and `metrics.json`
            (default: `runs/demo`, and `runs/fashion_demo` with `full`).
        data_dir: str or None. TFDS data dir.
        overrides: `key=value` strings applied to both presets' configs.
        limit: int or None. Evaluate the first `limit` scenes of each test
            split only (default: `QUICK_LIMIT`, and all of them with `full`).
        full: bool. The full recipe instead of the 10-minute schedule.
        committed: str or None. The model evaluated beside the run's (its
            latest version when that stage starts); None, or a folder with
            no SavedModel, leaves its row out.

    Returns:
        dict: `classify`, `localize`, `detect` (the run's measures),
        `committed` (the committed model's, with its `saved_model`, or
        None), `saved_model`, `pictures` (files), `table`, `stages` (seconds
        of each stage: `datasets`, `classify`, `detect`, `export`,
        `evaluate`, `committed`, `pictures`), `seconds`, `full`, `limit`;
        written to `<run_dir>/metrics.json` as well.
    """
    start = time.perf_counter()
    run_dir = run_dir or ("runs/fashion_demo" if full else "runs/demo")
    if out_root is None:
        out_root = "saved_models" if full else os.path.join(run_dir, "saved_models")
    if limit is None and not full:
        limit = QUICK_LIMIT
    classify, detect = _configs(run_dir, data_dir, overrides, quick=not full)
    progress = detect.train.verbose == 1
    stages = {}
    count = 7 if committed else 6

    def stage(name, text):
        return _Stage(stages, name, f"[{len(stages) + 1}/{count}] {text}")

    with stage("datasets", "Building the embedded datasets (first run only)"):
        for _, name in DEMO_SPLITS:
            builder = tfds.builder(name, data_dir=data_dir)
            builder.download_and_prepare()
    with stage(
        "classify",
        f"Classification: training {classify.model.arch} on "
        f"{classify.data.dataset} ({_schedule(classify)})",
    ):
        train_classifier(classify)
    with stage(
        "detect",
        "Detection: fine-tuning it with a background class and its box "
        f"regressor on {detect.data.dataset} ({_schedule(detect)})",
    ):
        result = train_detector(detect)
    model = result["model"]
    _, names = load_model_dir(result["model_dir"])
    with stage("export", "Exporting one SavedModel (classify, localize, detect)"):
        path = export_saved_model(
            model, os.path.join(out_root, "fashion_demo"), names, detect
        )
        print(f"      {path}")
    export = detect.export
    scales = "all" if export.scales is None else len(export.scales)
    flips = " x 2 flips" if export.flips else ""
    stride = "fine" if export.fine else "coarse"
    scenes = "whole test splits" if limit is None else f"first {limit} test scenes"
    with stage(
        "evaluate",
        f"Evaluating each task through the SavedModel ({scenes} of each task; "
        f"{scales} scales{flips}, {stride} stride)",
    ):
        metrics = evaluate_exported(path, data_dir, limit, progress, model, export)
    rows = [("this run", metrics)]
    metrics["committed"] = None
    if committed:
        with stage(
            "committed",
            f"Evaluating {committed} (its latest version) on the same scenes",
        ):
            try:  # read now: it may be where this run's export went
                committed_path = saved_model_path(committed)
            except ValueError:
                committed_path = None
                print(f"      no SavedModel in {committed}: its row is left out")
            if committed_path:
                metrics["committed"] = evaluate_exported(
                    committed_path, data_dir, limit, progress
                )
                metrics["committed"]["saved_model"] = committed_path
                rows.append((committed_path, metrics["committed"]))
    pictures = os.path.join(run_dir, "pictures")
    with stage("pictures", f"Drawing test scenes into {pictures}"):
        signatures = load_saved_model(path).signatures
        metrics["pictures"] = _pictures(signatures, data_dir, pictures)
        if metrics["committed"]:
            committed_signatures = load_saved_model(committed_path).signatures
            metrics["pictures"].append(
                _overview(committed_signatures, data_dir, pictures, "committed.png")
            )
    counts = ", ".join(f"{metrics[task]['examples']} {task}" for task, _ in DEMO_SPLITS)
    metrics.update(
        saved_model=path,
        table=format_table(rows),
        stages=stages,
        seconds=time.perf_counter() - start,
        full=full,
        limit=limit,
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
        f"Measures: {measures}",
        flush=True,
    )
    return metrics


def _schedule(config) -> str:
    steps = config.train.steps_per_epoch
    per = f" of {steps} steps" if steps else ""
    return f"{config.train.epochs} epochs{per}"


class _Stage:
    """Prints a stage's start line and, when it ends, its seconds; records
    them in `stages[name]`."""

    def __init__(self, stages, name, text):
        self.stages, self.name, self.text = stages, name, text

    def __enter__(self):
        self.stages[self.name] = 0.0  # numbers the next stage
        print(self.text, flush=True)
        self.start = time.perf_counter()
        return self

    def __exit__(self, kind, *_):
        seconds = time.perf_counter() - self.start
        self.stages[self.name] = seconds
        if kind is None:
            print(f"      done in {seconds:.0f} s", flush=True)
