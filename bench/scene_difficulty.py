"""Where a classifier's accuracy goes on `fashion_scenes/classification`:
the same network trained the same way on four drawings of the same items.

    python bench/scene_difficulty.py [--arch small_accurate] [--epochs 6]
        [--rows "the dataset" ...]

The classification scenes ask two things at once of a network: to find an
item anywhere at 25-100% of the scene's side, and to tell it from a
photograph behind it. Each row draws the training and validation split's
items (`fashion_scenes.split_items`, the dataset's own) with
`fashion_scenes.render_scene`, changing one of the two:

- items alone: every item fills the scene, on black;
- scaled and placed: items at 1x-4x anywhere, on black;
- on photographs: every item fills the scene, on the split's photographs;
- the dataset: items at 1x-4x anywhere on the photographs (the
  `classification` config itself).

Every row trains a fresh network from the same seed for the same steps
(whole scenes resized to the window, random flips, AdamW at 1e-3 with
decoupled weight decay 1e-4, batch 64: `fashion_small`'s optimiser, without
its crops) and reports validation top-1 after each epoch. The first row is
about what the items allow this network; the gap to the last is what the
scenes take away. Prints a table and writes bench/results/scene_difficulty.json.
"""

import argparse
import time

import keras
import numpy as np
import tensorflow as tf
from _common import report

from overfeat_tf.data.fashion_scenes import classification_scenes, scene_config
from overfeat_tf.models import OverFeat
from overfeat_tf.specs import get_spec
from overfeat_tf.train.tasks import training_model

# (row, item scales, on photographs)
ROWS = (
    ("items alone", (4.0, 4.0), False),
    ("scaled and placed", (1.0, 4.0), False),
    ("on photographs", (4.0, 4.0), True),
    ("the dataset", (1.0, 4.0), True),
)
SCENES = dict(scene_config("classification").num_examples)  # split sizes


def draw(split: str, scales, photographs: bool, count: int, seed: int):
    """`count` scenes of `split`: (uint8 `[n, 112, 112, 3]`, labels `[n]`)."""
    black = [np.zeros((112, 112, 3), np.uint8)]
    return classification_scenes(
        split,
        count,
        seed,
        None if photographs else black,
        min_scale=scales[0],
        max_scale=scales[1],
    )


def dataset(images, labels, window: int, batch_size: int, train: bool, seed: int):
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    if train:
        ds = ds.shuffle(len(images), seed=seed)

    def whole(image, label):
        image = tf.image.resize(tf.cast(image, tf.float32), (window, window))
        if train:
            image = tf.image.random_flip_left_right(image, seed=seed)
        return image, label

    return (
        ds.map(whole, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(2)
    )


def run_row(arch: str, scales, photographs: bool, args) -> dict:
    spec = get_spec(arch)
    train = draw("train", scales, photographs, args.train_scenes, args.seed)
    val = draw("validation", scales, photographs, SCENES["validation"], args.seed + 1)
    keras.utils.set_random_seed(args.seed)
    model = training_model(OverFeat(spec, num_classes=10))
    model.compile(
        keras.optimizers.AdamW(1e-3, weight_decay=1e-4),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="top1")],
    )
    start = time.perf_counter()
    history = model.fit(
        dataset(*train, spec.window, args.batch_size, True, args.seed),
        validation_data=dataset(*val, spec.window, args.batch_size, False, args.seed),
        epochs=args.epochs,
        verbose=0,
    ).history
    return {
        "val_top1": [round(v, 4) for v in history["val_top1"]],
        "train_top1": [round(v, 4) for v in history["top1"]],
        "seconds": time.perf_counter() - start,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arch", default="small_accurate")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--train-scenes", type=int, default=SCENES["train"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--rows", nargs="+", choices=[r[0] for r in ROWS], help="default: all four"
    )
    args = parser.parse_args()
    rows, results = [], {**vars(args), "rows": {}}
    for name, scales, photographs in ROWS:
        if args.rows and name not in args.rows:
            continue
        out = run_row(args.arch, scales, photographs, args)
        results["rows"][name] = out
        curve = " ".join(f"{v:.2f}" for v in out["val_top1"])
        rows.append(
            (name, f"val top-1 {out['val_top1'][-1]:6.1%}  (by epoch: {curve})")
        )
        print(name, rows[-1][1], f"{out['seconds']:.0f} s", flush=True)
    report("scene_difficulty", rows, results)


if __name__ == "__main__":
    main()
