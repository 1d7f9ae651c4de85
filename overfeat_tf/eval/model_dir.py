"""`overfeat evaluate`: the measure that suits a trained model folder."""

from __future__ import annotations

from overfeat_tf.config import ExportConfig
from overfeat_tf.data.pipeline import load_split
from overfeat_tf.model_dir import find_model_dir, load_model_dir

__all__ = ["TASKS", "evaluate_model_dir", "format_evaluation", "run_export_config"]


TASKS = ("detect", "localize")


def evaluate_model_dir(
    model_dir, dataset, split="test", data_dir=None, export=None, limit=None, task=None
) -> dict:
    """Evaluates a model folder on a TFDS split with `objects`.

    - `task="detect"` (the default for a detector, `overfeat train
      detect`): COCO AP, AP50, AP75 of its detections merged by the paper's
      greedy merge and by NMS (`overfeat_tf.eval.detection.evaluate_detector`);
    - `task="localize"` (the default for a localizer, a classifier with a
      box regressor; a detector too, as its `localize_*` signatures do):
      ILSVRC localization error
      (`overfeat_tf.eval.localization.evaluate_localizer`).

    Args:
        model_dir: str. A model folder or a training run folder.
        dataset: str. A TFDS dataset with `objects` (`fashion_scenes/
            detection`, `neon_trees`, `ilsvrc2012_localization`, `voc`, ...).
        split: str. data_dir: str or None: TFDS data dir.
        export: `overfeat_tf.config.ExportConfig` or None: the inference
            settings, as exported.
        limit: int or None: the first `limit` examples only.
        task: None, `"detect"` or `"localize"`: the measure (None: the
            model's own, above).

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
    folder = find_model_dir(model_dir)
    model, _ = load_model_dir(folder)
    task = task or ("detect" if model.background else "localize")
    if task == "detect" and not model.background:
        raise ValueError(
            f"{folder} holds a localizer, not a detector (no background "
            "class): it has a localization error, not a detection AP."
        )
    export = export or ExportConfig()
    ds, _ = load_split(dataset, split, data_dir)
    if limit is not None:
        ds = ds.take(limit)
    if task == "detect":
        result = evaluate_detector(MultiScaleDetector.from_export(model, export), ds)
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
    `config.yaml`, beside the model folder or in it), with `key=value`
    overrides; the defaults when there is no such file."""
    import os

    from overfeat_tf.config import Config, apply_overrides, load_config

    config = Config()
    folder = find_model_dir(model_dir)
    for candidate in (folder, os.path.dirname(os.path.abspath(folder))):
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
    lines = [f"{head}: detection AP (COCO, pycocotools)", "method   AP     AP50   AP75"]
    for method in ("merge", "nms"):
        if method in result:
            r = result[method]
            lines.append(f"{method:<8} {r['AP']:.3f}  {r['AP50']:.3f}  {r['AP75']:.3f}")
    return "\n".join(lines)
