"""`overfeat evaluate`: the measure that suits a trained model folder."""

from __future__ import annotations

from overfeat_tf.config import ExportConfig
from overfeat_tf.data.pipeline import load_split
from overfeat_tf.model_dir import find_model_dir, load_model_dir

__all__ = ["TASKS", "evaluate_model_dir", "format_evaluation", "run_export_config"]


TASKS = ("detect", "localize")


def _load(folder):
    """(model, class names) of a model folder, a training run folder, or an
    exported SavedModel (`saved_models/<name>` or one of its versions:
    `load_exported_network`)."""
    import os

    from overfeat_tf.model_dir import MODEL_FILE

    if os.path.isfile(os.path.join(folder, MODEL_FILE)):
        return load_model_dir(folder)
    from overfeat_tf.serving.export import load_exported_network, saved_model_path

    try:
        saved_model_path(folder)
    except ValueError:
        return load_model_dir(folder)  # its error: no model.keras
    return load_exported_network(folder)[:2]


def _relabel(ds, dataset_names, model_names):
    """`ds` with its `objects/label` numbered as the model numbers its classes
    (by name, case aside: a dataset of one's own numbers its classes in
    sorted order of those it holds, which may not be the model's).

    Raises:
        ValueError: if a class of the dataset is not one of the model's.
    """
    import numpy as np
    import tensorflow as tf

    if model_names is None:
        return ds  # nothing to go by: the same numbers
    index = {name.lower(): i for i, name in enumerate(model_names)}
    unknown = [n for n in dataset_names if n.lower() not in index]
    if unknown:
        raise ValueError(
            f"The data's classes {unknown} are not among the model's "
            f"{list(model_names)}."
        )
    table = tf.constant(np.array([index[n.lower()] for n in dataset_names]))

    def relabel(example):
        objects = dict(example["objects"])
        objects["label"] = tf.gather(table, objects["label"])
        return {**example, "objects": objects}

    return ds.map(relabel)


def evaluate_model_dir(
    model_dir,
    dataset=None,
    split="test",
    data_dir=None,
    export=None,
    limit=None,
    task=None,
    data_path=None,
    images_dir=None,
) -> dict:
    """Evaluates a model on a TFDS split with `objects`, or on annotations.

    - `task="detect"` (the default for a detector, `overfeat train
      detect`): COCO AP, AP50, AP75 and DeepForest's box precision and
      recall at IoU 0.4 of its detections merged by the paper's greedy
      merge and by NMS (`overfeat_tf.eval.detection.evaluate_detector`);
      the export's own method's also as `ap`, `ap50`, `ap75`,
      `precision_iou40`, `recall_iou40`;
    - `task="localize"` (the default for a localizer, a classifier with a
      box regressor; a detector too, as its `localize_*` signatures do):
      ILSVRC localization error
      (`overfeat_tf.eval.localization.evaluate_localizer`).

    Args:
        model_dir: str. A model folder, a training run folder, or an
            exported SavedModel (`saved_models/<name>`, its latest version,
            or a version folder; its own export settings by default).
        dataset: str or None. A TFDS dataset with `objects` (`fashion_scenes/
            detection`, `neon_trees`, `ilsvrc2012_localization`, `voc`, ...).
        split: str. data_dir: str or None: TFDS data dir.
        export: `overfeat_tf.config.ExportConfig` or None: the inference
            settings (None: the model's own, `run_export_config`).
        limit: int or None: the first `limit` examples only.
        task: None, `"detect"` or `"localize"`: the measure (None: the
            model's own, above).
        data_path: str or None. In place of `dataset`: annotations (a
            DeepForest CSV, COCO JSON, a folder of VOC XML), every image of
            them (`overfeat_tf.data.own_data.own_dataset`, split `all`),
            their classes matched to the model's by name.
        images_dir: str or None. Where `data_path`'s image paths start.

    Returns:
        dict: the measures, plus `task` (`"detect"` or `"localize"`),
        `model_dir`, `dataset`, `split`.
    """
    from overfeat_tf.eval.detection import evaluate_detector
    from overfeat_tf.eval.localization import evaluate_localizer
    from overfeat_tf.ops.detect import MultiScaleDetector
    from overfeat_tf.ops.localize import MultiScaleLocalizer

    if task not in (None, *TASKS):
        raise ValueError(f"task must be one of {TASKS} or None. Received: {task!r}")
    if (dataset is None) == (data_path is None):
        raise ValueError(
            "Evaluate on a TFDS dataset or on annotations, one of them. "
            f"Received: dataset={dataset!r}, data_path={data_path!r}"
        )
    folder = find_model_dir(model_dir)
    model, names = _load(folder)
    task = task or ("detect" if model.background else "localize")
    if task == "detect" and not model.background:
        raise ValueError(
            f"{folder} holds a localizer, not a detector (no background "
            "class): it has a localization error, not a detection AP."
        )
    # Unless told otherwise, the model's own settings: its run's, its export's.
    export = export or run_export_config(folder)
    if data_path is not None:
        from overfeat_tf.data.own_data import own_dataset

        own = own_dataset(data_path, images_dir, data_dir, expect="boxes")
        ds, _ = load_split(own.name, "all", own.data_dir)
        objects = names[:-1] if names and model.background else names
        ds = _relabel(ds, own.class_names, objects)
        dataset, split = data_path, "all"
    else:
        ds, _ = load_split(dataset, split, data_dir)
    if limit is not None:
        ds = ds.take(limit)
    if task == "detect":
        result = evaluate_detector(MultiScaleDetector.from_export(model, export), ds)
        own_method = result[export.detect_method]
        result.update(
            ap=own_method["AP"],
            ap50=own_method["AP50"],
            ap75=own_method["AP75"],
            precision_iou40=own_method["precision_iou40"],
            recall_iou40=own_method["recall_iou40"],
        )
    else:
        localizer = MultiScaleLocalizer.from_export(model, export)
        result = evaluate_localizer(localizer.localize, ds)
    return {
        **result,
        "task": task,
        "model_dir": folder,
        "dataset": dataset,
        "split": split,
    }


def run_export_config(model_dir, overrides=()) -> ExportConfig:
    """The export settings of the run that trained `model_dir` (its
    `config.yaml`, beside the model folder or in it, or an export's
    `assets/config.yaml`), with `key=value` overrides; the defaults when
    there is no such file."""
    import os

    from overfeat_tf.config import Config, apply_overrides, load_config

    config = Config()
    folder = find_model_dir(model_dir)
    candidates = [folder, os.path.dirname(os.path.abspath(folder))]
    if not os.path.isfile(os.path.join(folder, "model.keras")):
        from overfeat_tf.serving.export import saved_model_path

        try:  # an export carries its config among its assets
            candidates.insert(0, os.path.join(saved_model_path(folder), "assets"))
        except ValueError:
            pass
    for candidate in candidates:
        path = os.path.join(candidate, "config.yaml")
        if os.path.isfile(path):
            config = load_config(path)
            break
    return apply_overrides(config, overrides).export


def format_evaluation(result: dict) -> str:
    """One line (localization) or a small table (detection) for the terminal."""
    head = f"{result['dataset']} [{result['split']}], {result['examples']} images"
    if result["task"] == "localize":
        return (
            f"{head}: localization error top-1 {result['error_top1']:.1%}, top-5 "
            f"{result['error_top5']:.1%} (boxes alone: "
            f"{result['box_error_top1']:.1%}, {result['box_error_top5']:.1%})"
        )
    lines = [
        f"{head}: detection AP (COCO, pycocotools), box precision and recall "
        "at IoU 0.4 (DeepForest's)",
        "method   AP     AP50   AP75   P@0.4  R@0.4",
    ]
    for method in ("merge", "nms"):
        if method in result:
            r = result[method]
            lines.append(
                f"{method:<8} {r['AP']:.3f}  {r['AP50']:.3f}  {r['AP75']:.3f}  "
                f"{r.get('precision_iou40', 0.0):.3f}  {r.get('recall_iou40', 0.0):.3f}"
            )
    return "\n".join(lines)
