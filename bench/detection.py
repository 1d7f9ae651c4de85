"""Detection AP on the embedded data: the paper's greedy merge against NMS.

    overfeat train classify --preset fashion_small
    overfeat train detect --preset fashion_detect
    overfeat train detect --preset neon_trees
    python bench/detection.py

Each trained detector runs once per image on its evaluation split
(`fashion_scenes/detection` test, `neon_trees` validation) with its
preset's export settings; the same cells are post-processed by
`greedy_merge` (boxes accumulated, scored by their summed probabilities)
and by `tf.image.combined_non_max_suppression` (one window per cluster),
and pycocotools' `COCOeval` scores both (AP over IoU 0.50:0.95, AP50, AP75;
up to 100 boxes per image). The merge runs at each `--thresholds` value
(one network pass per value).
"""

import argparse
import os

from _common import report

from overfeat_tf.config import apply_overrides, get_config
from overfeat_tf.eval import evaluate_model_dir

RUNS = (  # dataset, split, preset (its run.out_dir holds the detector)
    ("fashion_scenes/detection", "test", "fashion_detect"),
    ("neon_trees", "validation", "neon_trees"),
)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir")
    parser.add_argument("--limit", type=int, help="first N examples of each split")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.3, 0.6, 0.8])
    parser.add_argument(
        "--set", action="append", default=[], help="export overrides, key=value"
    )
    args = parser.parse_args()
    rows, results = [], {}
    for dataset, split, preset in RUNS:
        config = get_config(preset)
        run = os.path.join(config.run.out_dir, "detect")
        for i, threshold in enumerate(args.thresholds):
            overrides = [*args.set, f"export.merge_threshold={threshold}"]
            export = apply_overrides(config, overrides).export
            out = evaluate_model_dir(
                run, dataset, split, args.data_dir, export, args.limit
            )
            methods = ("merge", "nms") if i == 0 else ("merge",)
            for method in methods:
                r = out[method]
                label = "nms" if method == "nms" else f"merge {threshold}"
                rows.append(
                    (
                        f"{dataset} [{split}] {label}",
                        f"AP {r['AP']:.3f}  AP50 {r['AP50']:.3f}  AP75 {r['AP75']:.3f}",
                    )
                )
            results[f"{dataset} merge {threshold}"] = out
    report("detection", rows, results)


if __name__ == "__main__":
    main()
