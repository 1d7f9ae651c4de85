"""The paper's Table 2 on our data: top-1 / top-5 of a trained classifier by
scales (each alone, 2, 3, 4 and all 6), with and without flips, at the
coarse and the fine stride, on a test split.

    overfeat train classify --preset fashion_small
    python bench/table2.py --model runs/fashion_small [--split test] [--data-dir DIR]

One dense pass per image, scale, flip and stride; every row is a vote over
those passes (`overfeat_tf.eval.classification`), equal to what
`MultiScaleClassifier` (and the SavedModel) computes with that row's
settings. Prints a Markdown table (docs/results.md's) and writes
bench/results/table2.json.
"""

import argparse

from _common import report

from overfeat_tf.data.pipeline import load_split
from overfeat_tf.eval.classification import vote_table
from overfeat_tf.model_dir import load_model_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="runs/fashion_small")
    parser.add_argument("--dataset", default="fashion_scenes/classification")
    parser.add_argument("--split", default="test")
    parser.add_argument("--data-dir")
    parser.add_argument("--batch-size", type=int, default=50)
    args = parser.parse_args()
    model, _ = load_model_dir(args.model)
    ds, _ = load_split(args.dataset, args.split, args.data_dir)
    table = vote_table(model, ds, batch_size=args.batch_size)
    sides = [min(hw) for hw in model.spec.scales]
    print(
        f"\n{args.dataset} {args.split}, {table['examples']} images, {model.spec.name}"
    )
    print(f"scales 1-{len(sides)}: short sides {sides}\n")
    print("| scales | flips | coarse top-1 | coarse top-5 | fine top-1 | fine top-5 |")
    print("|---|---|---|---|---|---|")
    cells = {(tuple(r["scales"]), r["flips"], r["fine"]): r for r in table["rows"]}
    order = dict.fromkeys((tuple(r["scales"]), r["flips"]) for r in table["rows"])
    for scales, flips in order:
        coarse, fine = cells[scales, flips, False], cells[scales, flips, True]
        label = ",".join(str(i + 1) for i in scales)
        line = (
            f"| {label} | {'yes' if flips else 'no'} | {coarse['top1']:.1%} | "
            f"{coarse['top5']:.1%} | {fine['top1']:.1%} | {fine['top5']:.1%} |"
        )
        print(line)
    report(
        "table2",
        [("seconds", f"{table['seconds']:.0f}")],
        {
            "model": args.model,
            "dataset": args.dataset,
            "split": args.split,
            "short_sides": sides,
            **table,
        },
    )


if __name__ == "__main__":
    main()
