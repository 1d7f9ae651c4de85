"""The paper's Fig. 9 on fashion_scenes/localization: localization error of
the trained small localizers by scales, SCR vs PCR, fine vs coarse stride,
against the single centred window.

    overfeat train classify --preset fashion_localize
    overfeat train localize --preset fashion_localize --set localize.regressor=single
    overfeat train localize --preset fashion_localize --set localize.regressor=per_class
    python bench/localization.py --run runs/fashion_localize [--split test]

First the merge threshold is chosen on the validation split (SCR, all
scales, fine stride); then every configuration runs on `--split` with it.
The merge runs through XLA here (`jit_compile=True`: the same results,
about ten times faster for the ~600 boxes per class of these scenes).
ILSVRC's criterion (`overfeat_tf.eval.localization`): a guess is right when
its class is right and its box has IoU >= 0.5 with the true box; "box"
columns drop the class condition (the regressor's and merge's share).
"""

import argparse
import os

import tensorflow as tf
from _common import report

from overfeat_tf.data.pipeline import load_split
from overfeat_tf.eval import evaluate_localizer
from overfeat_tf.model_dir import load_model_dir
from overfeat_tf.ops import MultiScaleLocalizer, localize_center

DATASET = "fashion_scenes/localization"
SCALES = {1: [0], 2: [0, 1], 4: [0, 1, 2, 3], 6: [0, 1, 2, 3, 4, 5]}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", default="runs/fashion_localize")
    parser.add_argument("--data-dir")
    parser.add_argument("--split", default="test")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.3, 0.6, 1.0])
    args = parser.parse_args()
    test, _ = load_split(DATASET, args.split, args.data_dir)
    val, _ = load_split(DATASET, "validation", args.data_dir)
    models = {
        kind: load_model_dir(os.path.join(args.run, f"localize_{kind}", "model"))[0]
        for kind in ("single", "per_class")
    }
    rows, results = [], []

    def run(label, fn, ds, **info):
        r = evaluate_localizer(fn, ds, batch_size=50)
        rows.append(
            (
                label,
                f"top-1 {r['error_top1']:6.1%}  top-5 {r['error_top5']:6.1%}   "
                f"box top-1 {r['box_error_top1']:6.1%}  top-5 "
                f"{r['box_error_top5']:6.1%}   ({r['seconds']:.0f} s)",
            )
        )
        results.append({**info, **r})
        print(rows[-1][0], rows[-1][1], flush=True)
        return r

    best = None
    for t in args.thresholds:
        loc = MultiScaleLocalizer(models["single"], threshold=t, jit_compile=True)
        r = run(
            f"validation SCR 6 scales t={t}",
            loc.localize,
            val,
            split="validation",
            threshold=t,
        )
        if best is None or r["error_top5"] < best[1]:
            best = (t, r["error_top5"])
    threshold = best[0]
    for kind, model in models.items():
        name = "SCR" if kind == "single" else "PCR"
        center = tf.function(lambda x, m=model: localize_center(m, x, 5))
        run(f"{name} centre window", center, test, regressor=kind, scales=0)
        for stride in ("fine", "coarse"):
            for n, scales in SCALES.items():
                loc = MultiScaleLocalizer(
                    model,
                    scales=scales,
                    fine=stride == "fine",
                    threshold=threshold,
                    jit_compile=True,
                )
                run(
                    f"{name} {n} scale{'s' * (n > 1)} {stride}",
                    loc.localize,
                    test,
                    regressor=kind,
                    scales=n,
                    stride=stride,
                    threshold=threshold,
                )
    report(
        "localization",
        rows,
        {"split": args.split, "threshold": threshold, "results": results},
    )


if __name__ == "__main__":
    main()
