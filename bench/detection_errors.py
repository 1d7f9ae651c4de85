"""Where a detection SavedModel's boxes go: hits, wrong classes, repeats,
loose boxes and boxes on bare background, and AP with the class set aside.

    python bench/detection_errors.py [--model saved_models/fashion_demo] \
        [--dataset fashion_scenes/detection] [--split validation]

Runs the model's `detect_images` signature (its exported scales, flips,
thresholds and `max_detections`) once per image of the split, then:
- each box, in descending score within its image, is a hit (IoU >= 0.5
  with an item not yet found, same class), a hit of the wrong class, a
  repeat (IoU >= 0.5 with an item already found), loose (best IoU 0.1-0.5)
  or background (under 0.1); the table gives their counts and median
  scores, and the share of items found at IoU 0.5 with any class and with
  the right one;
- COCO AP / AP50 / AP75 (`overfeat_tf.eval.coco_ap`) of the boxes as they
  are, class-agnostic (every box and item one class), and with each box
  that overlaps an item at IoU >= 0.5 given that item's class: how much
  the classes cost, and how much is left to the boxes.

Writes bench/results/detection_errors.json.
"""

import argparse
import pathlib

import keras
import numpy as np
import tensorflow_datasets as tfds
from _common import report

from overfeat_tf.eval import coco_ap, signature_detections
from overfeat_tf.serving import load_saved_model, saved_model_path

ROOT = pathlib.Path(__file__).resolve().parent.parent
KINDS = ("hit", "wrong class", "repeat", "loose", "background")


def pairwise_iou(a, b):
    """IoU of every box of `a` `[n, 4]` with every box of `b` `[m, 4]`
    (pixels, `[ymin, xmin, ymax, xmax]`): `[n, m]`."""
    return keras.utils.bounding_boxes.compute_iou(
        np.asarray(a, np.float32), np.asarray(b, np.float32), "yxyx"
    ).numpy()


def kinds(truth, found):
    """Each box's kind (index into KINDS), its score, and the item indices
    found with any class and with the right one."""
    ious = pairwise_iou(found["boxes"], truth["boxes"])
    out, used, right = [], set(), set()
    for i in np.argsort(-found["scores"], kind="stable"):
        if ious.shape[1] == 0 or ious[i].max() < 0.1:
            out.append((4, found["scores"][i]))
            continue
        j = int(ious[i].argmax())
        if ious[i, j] < 0.5:
            out.append((3, found["scores"][i]))
        elif j in used:
            out.append((2, found["scores"][i]))
        else:
            used.add(j)
            same = found["classes"][i] == truth["labels"][j]
            out.append((0 if same else 1, found["scores"][i]))
        if ious[i, j] >= 0.5 and found["classes"][i] == truth["labels"][j]:
            right.add(j)
    return out, used, right


def relabelled(truth, found):
    """`found` with each box overlapping an item at IoU >= 0.5 given the
    class of the item it overlaps most."""
    classes = found["classes"].copy()
    if len(truth["boxes"]) and len(found["boxes"]):
        ious = pairwise_iou(found["boxes"], truth["boxes"])
        best = ious.argmax(1)
        over = ious.max(1) >= 0.5
        classes[over] = truth["labels"][best[over]]
    return {**found, "classes": classes}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=str(ROOT / "saved_models" / "fashion_demo"))
    parser.add_argument("--dataset", default="fashion_scenes/detection")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--data-dir")
    parser.add_argument("--limit", type=int, help="first N examples")
    args = parser.parse_args()

    path = saved_model_path(args.model)
    detect = load_saved_model(path).signatures["detect_images"]
    data = tfds.load(args.dataset, split=args.split, data_dir=args.data_dir)
    if args.limit:
        data = data.take(args.limit)
    truths, founds = signature_detections(detect, data)
    info = tfds.builder(args.dataset, data_dir=args.data_dir).info
    num_classes = info.features["objects"]["label"].num_classes
    scored, items, found_any, found_right = [], 0, 0, 0
    for truth, found in zip(truths, founds, strict=True):
        each, used, right = kinds(truth, found)
        scored += each
        items += len(truth["boxes"])
        found_any += len(used)
        found_right += len(right)
    kind = np.asarray([k for k, _ in scored], int).reshape(-1)
    score = np.asarray([s for _, s in scored], float).reshape(-1)
    rows, results = [], {"model": str(path), "split": args.split, "kinds": {}}
    for k, name in enumerate(KINDS):
        mine = score[kind == k]
        median = float(np.median(mine)) if len(mine) else 0.0
        share = len(mine) / max(len(kind), 1)
        rows.append(
            (name, f"{len(mine):6d} boxes ({share:.0%}), median score {median:.2f}")
        )
        results["kinds"][name] = {"boxes": len(mine), "median_score": median}
    rows.append(
        (
            "items found",
            f"{found_any / max(items, 1):.1%} of {items} at IoU 0.5 "
            f"({found_right / max(items, 1):.1%} with their class)",
        )
    )
    agnostic_truth = [{**t, "labels": np.zeros_like(t["labels"])} for t in truths]
    agnostic_found = [{**f, "classes": np.zeros_like(f["classes"])} for f in founds]
    given = [relabelled(t, f) for t, f in zip(truths, founds, strict=True)]
    for name, ap in (
        ("as detected", coco_ap(truths, founds, num_classes)),
        ("class-agnostic", coco_ap(agnostic_truth, agnostic_found, 1)),
        ("classes given", coco_ap(truths, given, num_classes)),
    ):
        rows.append(
            (f"AP / AP50 / AP75, {name}", " / ".join(f"{ap[k]:.3f}" for k in ap))
        )
        results[name] = ap
    results.update(items=items, found=found_any, found_with_class=found_right)
    report("detection_errors", rows, results)


if __name__ == "__main__":
    main()
