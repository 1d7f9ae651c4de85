"""Six scales + flips per image through the full accurate network.

Seconds per image, achieved GFLOP/s from counted multiply-adds, and that rate
over a large matmul timed in the same process; the fine-map formulations
(`overfeat_tf.ops.dense`): the default (dilated), space_to_batch, and the
paper's (offsets); float32 against mixed_bfloat16 (default formulation).

    python bench/multiscale.py [--image data/backgrounds/chelsea.jpg] [--repeats 2]
"""

import argparse
import pathlib

import keras
import tensorflow as tf
from _common import he_weights, matmul_gflops, median_seconds, report

from overfeat_tf import geometry
from overfeat_tf.models import OverFeat
from overfeat_tf.ops import MultiScaleClassifier

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _classifier(policy, formulation, weights=None):
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = OverFeat("accurate")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    if weights is None:
        he_weights(model)
    else:
        model.set_weights(weights)
    # "fixed": exactly the six sizes of the paper's Table 5.
    return MultiScaleClassifier(model, mode="fixed", formulation=formulation)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=str(ROOT / "data/backgrounds/chelsea.jpg"))
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    raw = tf.io.decode_image(
        tf.io.read_file(args.image), channels=3, expand_animations=False
    )
    image = tf.cast(raw, tf.float32)[None]

    f32 = _classifier("float32", "dilated")
    weights = f32.model.get_weights()
    s2b = _classifier("float32", "space_to_batch", weights)
    ref = _classifier("float32", "offsets", weights)
    bf16 = _classifier("mixed_bfloat16", "dilated", weights)

    spec = f32.spec
    macs = 2 * sum(sum(geometry.multiply_adds(spec, hw).values()) for hw in spec.scales)
    times, top5 = {}, {}
    for name, clf in [
        ("float32", f32),
        ("float32_space_to_batch", s2b),
        ("float32_offsets", ref),
        ("mixed_bfloat16", bf16),
    ]:
        times[name] = median_seconds(
            lambda c=clf: c.classify(image)["scores"].numpy(), repeats=args.repeats
        )
        top5[name] = clf.classify(image)["classes"].numpy()[0].tolist()
    mm32 = matmul_gflops(4096, tf.float32)
    mm16 = matmul_gflops(4096, tf.bfloat16)
    gflops = {k: 2 * macs / t / 1e9 for k, t in times.items()}
    results = {
        "image": pathlib.Path(args.image).name,
        "scales": [list(hw) for hw in spec.scales],
        "flips": True,
        "gmacs_per_image": macs / 1e9,
        "seconds_per_image": times,
        "gflops": gflops,
        "matmul_gflops": {"float32": mm32, "bfloat16": mm16},
        "fraction_of_matmul_float32": gflops["float32"] / mm32,
        "speedup_default_over_offsets": times["float32_offsets"] / times["float32"],
        "speedup_bfloat16_over_float32": times["float32"] / times["mixed_bfloat16"],
        "top5": top5,
        "same_top5_bfloat16": top5["float32"] == top5["mixed_bfloat16"],
        "paper_seconds_per_image_k20x": 2.0,
    }
    report(
        "multiscale",
        [
            ("image, scales", f"{results['image']}, Table 5 sizes x 2 flips"),
            ("multiply-adds per image (G)", f"{macs / 1e9:.0f}"),
            *[
                (f"{k} s/image", f"{t:.2f}  ({gflops[k]:.0f} GFLOP/s)")
                for k, t in times.items()
            ],
            ("matmul 4096^2 float32 / bf16", f"{mm32:.0f} / {mm16:.0f} GFLOP/s"),
            (
                "float32 rate / matmul rate",
                f"{results['fraction_of_matmul_float32']:.2f} (target >= 0.6)",
            ),
            (
                "default vs offsets speedup",
                f"{results['speedup_default_over_offsets']:.2f}x (target > 1)",
            ),
            (
                "bf16 vs float32 speedup",
                f"{results['speedup_bfloat16_over_float32']:.2f}x (target >= 2)",
            ),
            (
                "same top-5 (bf16 vs f32)",
                f"{results['same_top5_bfloat16']}  "
                f"{top5['float32']} / {top5['mixed_bfloat16']}",
            ),
            ("paper, K20x GPU", "about 2 s/image"),
        ],
        results,
    )


if __name__ == "__main__":
    main()
