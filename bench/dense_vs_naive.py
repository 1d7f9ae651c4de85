"""Dense fine-stride pass vs. running the network on every window crop.

Full-width accurate network, random weights, the paper's scale 6 (461x569),
fine stride (21 x 30 = 630 windows):

    python bench/dense_vs_naive.py [--size 461x569] [--batch 30]
"""

import argparse

import numpy as np
import tensorflow as tf
from _common import he_weights, median_seconds, report

from overfeat_tf import geometry
from overfeat_tf.models import OverFeat
from overfeat_tf.ops import DenseClassifier


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=geometry.parse_size, default=(461, 569))
    parser.add_argument("--batch", type=int, default=30, help="crops per naive batch")
    args = parser.parse_args()

    model = OverFeat("accurate")
    he_weights(model)
    spec, (h, w) = model.spec, args.size
    s, window = geometry.fine_stride(spec), spec.window
    image = tf.constant(
        np.random.default_rng(0).uniform(0, 255, (1, h, w, 3)), tf.float32
    )

    dense = DenseClassifier(model)
    dense_fn = tf.function(dense, input_signature=[tf.TensorSpec([1, None, None, 3])])
    fine = dense_fn(image).numpy()
    rows, cols = fine.shape[1:3]

    # Every window crop at (i * s, j * s), in batches through the plain network.
    crops = tf.concat(
        [
            image[:, i * s : i * s + window, j * s : j * s + window]
            for i in range(rows)
            for j in range(cols)
        ],
        axis=0,
    )
    single = tf.function(lambda x: model(x, training=False))

    def naive():
        return [
            single(crops[i : i + args.batch]) for i in range(0, len(crops), args.batch)
        ]

    t_dense = median_seconds(lambda: dense_fn(image).numpy(), repeats=3)
    t_naive = median_seconds(lambda: [o.numpy() for o in naive()], repeats=1)

    macs_dense = sum(geometry.multiply_adds(spec, (h, w)).values())
    macs_window = sum(geometry.multiply_adds(spec, window).values())
    macs_naive = rows * cols * macs_window
    results = {
        "size": [h, w],
        "windows": rows * cols,
        "dense_seconds": t_dense,
        "naive_seconds": t_naive,
        "time_ratio": t_naive / t_dense,
        "dense_gmacs": macs_dense / 1e9,
        "naive_gmacs": macs_naive / 1e9,
        "mac_ratio": macs_naive / macs_dense,
        "target_time_ratio": 20.0,
    }
    report(
        "dense_vs_naive",
        [
            ("image", f"{h}x{w}, fine map {rows}x{cols} = {rows * cols} windows"),
            ("dense pass (s)", f"{t_dense:.2f}"),
            (f"naive, batches of {args.batch} (s)", f"{t_naive:.2f}"),
            ("time ratio", f"{t_naive / t_dense:.1f}x (target >= 20x)"),
            (
                "multiply-adds dense / naive (G)",
                f"{macs_dense / 1e9:.1f} / {macs_naive / 1e9:.1f}",
            ),
            ("multiply-add ratio", f"{macs_naive / macs_dense:.1f}x"),
        ],
        results,
    )


if __name__ == "__main__":
    main()
