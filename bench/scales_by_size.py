"""Which scale classifies which item size: top-1 of each scale alone and of
the multi-scale vote, on fresh test scenes drawn in bands of item size.

    python bench/scales_by_size.py --model runs/fashion_demo/detect [--scenes 200]

The paper votes over six scales because an object is recognised best when
the window sees it at about the size it was trained on (section 3.3). Here
every band of item sizes is drawn apart (`fashion_scenes.render_scene` on
the test split's photographs and items, tinted as the dataset tints them,
one item of 28 px times a scale drawn in the band: 25-40% of the 112 px
frame, 40-55%, ... 85-100%), and each band is classified by each of the
model's scales alone and by the vote over all of them (fine stride, flips:
the default export's vote; `overfeat_tf.eval.classification.vote_table`).
A band's best single scale is what picking the right scale for its item
size would give; the vote needs no such choice, and its
distance to that is what voting over every scale costs. Prints the table
and writes bench/results/scales_by_size.json.
"""

import argparse

import tensorflow as tf
from _common import report

from overfeat_tf.data.fashion_scenes import classification_scenes
from overfeat_tf.eval.classification import Vote, vote_table
from overfeat_tf.model_dir import load_model_dir

# Bands of the item's scale (28 px times it; 4.0 fills the 112 px frame).
BANDS = ((1.0, 1.6), (1.6, 2.2), (2.2, 2.8), (2.8, 3.4), (3.4, 4.0))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="runs/fashion_demo/detect")
    parser.add_argument("--scenes", type=int, default=200, help="per band")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    model, _ = load_model_dir(args.model)
    sides = [min(hw) for hw in model.spec.scales]
    n = len(sides)
    votes = [Vote((i,)) for i in range(n)] + [Vote(tuple(range(n)))]
    header = ["item side"] + [f"{s} px" for s in sides] + ["best", f"{n} scales"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    results = {"model": args.model, "scenes_per_band": args.scenes, "bands": []}
    for band, (lo, hi) in enumerate(BANDS):
        images, labels = classification_scenes(
            "test", args.scenes, args.seed + band, min_scale=lo, max_scale=hi
        )
        drawn = tf.data.Dataset.from_tensor_slices({"image": images, "label": labels})
        table = vote_table(model, drawn, votes=votes, progress=False)
        top1 = {tuple(r["scales"]): r["top1"] for r in table["rows"]}
        single = [top1[(i,)] for i in range(n)]
        best = max(range(n), key=single.__getitem__)
        vote = top1[tuple(range(n))]
        cells = [f"{lo / 4:.0%}-{hi / 4:.0%}"] + [f"{a:.1%}" for a in single]
        cells += [f"{single[best]:.1%} ({sides[best]} px)", f"{vote:.1%}"]
        lines.append("| " + " | ".join(cells) + " |")
        results["bands"].append(
            {
                "item_scale": [lo, hi],
                "single_scales": dict(zip(sides, single, strict=True)),
                "best_side": sides[best],
                "vote": vote,
            }
        )
    print("\n" + "\n".join(lines) + "\n")
    mean = sum(b["vote"] for b in results["bands"]) / len(BANDS)
    bound = sum(max(b["single_scales"].values()) for b in results["bands"]) / len(BANDS)
    report(
        "scales_by_size",
        [
            ("vote, mean over bands", f"{mean:.1%}"),
            ("best scale per band", f"{bound:.1%}"),
        ],
        results,
    )


if __name__ == "__main__":
    main()
