"""Which ground-truth boxes a detector's scales can train as objects.

    python bench/detection_scales.py \
        --set "detect.scale_sides=[97,133,169,205,241,289]" --add 385
    python bench/detection_scales.py --preset neon_trees --add 481 577

A detection cell is an object only where its window holds
`detect.positive_coverage` of a box and the box's side (the square root of
its area) is at least `detect.min_box_size` of the window's
(`overfeat_tf.ops.boxes.detection_labels`). Boxes too small for the largest
scale, or too large for the smallest, never train as objects.
`overfeat_tf.eval.positive_scales` runs that labelling at every scale for
every box of a split; this prints, by box size, the share of boxes some
scale trains on, for the preset's `detect.scale_sides` and for each
`--add` side appended to them. No network runs: a few seconds per thousand
boxes.
"""

import argparse
import dataclasses

import numpy as np
import tensorflow_datasets as tfds
from _common import report

from overfeat_tf.config import apply_overrides, get_config
from overfeat_tf.eval import positive_scales
from overfeat_tf.specs import get_spec


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="fashion_detect")
    parser.add_argument("--split", default="train")
    parser.add_argument("--data-dir")
    parser.add_argument(
        "--add",
        type=int,
        nargs="*",
        default=[],
        help="short sides appended to the preset's, one row each",
    )
    parser.add_argument("--set", action="append", default=[], help="key=value")
    args = parser.parse_args()
    config = apply_overrides(get_config(args.preset), args.set)
    det = config.detect
    spec = get_spec(config.model.arch)
    data = tfds.load(config.data.dataset, split=args.split, data_dir=args.data_dir)
    sides = tuple(det.scale_sides or (min(s) for s in spec.scales))
    # One labelling pass at the preset's sides and every added one; each row
    # reads its own columns.
    every = (*sides, *args.add)
    got = positive_scales(
        data,
        dataclasses.replace(spec, scales=tuple((s, s) for s in every)),
        det.positive_coverage,
        det.min_box_size,
        det.negative_overlap,
    )
    root = got["root"]
    edges = np.percentile(root, [0, 25, 50, 75, 100])
    bins = list(zip(edges[:-1], edges[1:], strict=True))
    preset = list(range(len(sides)))
    rows, results = [], {"preset": args.preset, "split": args.split, "rows": {}}
    for column in [None, *range(len(sides), len(every))]:
        columns = preset if column is None else [*preset, column]
        scale_sides = tuple(every[c] for c in columns)
        by_scale = got["positive"][:, columns]
        positive = by_scale.any(1)
        shares = [
            float(positive[(root >= lo) & (root <= hi)].mean()) for lo, hi in bins
        ]
        label = " ".join(map(str, scale_sides))
        quartiles = " ".join(
            f"{lo:.0f}-{hi:.0f} px {share:.0%}"
            for (lo, hi), share in zip(bins, shares, strict=True)
        )
        rows.append(
            (
                label,
                f"{positive.mean():6.1%} of {len(root)} boxes; "
                f"by size quartile {quartiles}",
            )
        )
        results["rows"][label] = {
            "boxes": len(root),
            "positive": float(positive.mean()),
            "per_scale": by_scale.mean(0).tolist(),
            "quartile_edges": edges.tolist(),
            "quartile_positive": shares,
        }
    report(f"detection_scales_{args.preset}", rows, results)


if __name__ == "__main__":
    main()
