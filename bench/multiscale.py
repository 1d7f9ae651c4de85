"""Six scales + flips per image through the full accurate network.

Seconds per image, achieved GFLOP/s from counted multiply-adds, and that rate
over a large matmul timed in the same process; the fine-map formulations
(`overfeat_tf.ops.dense`): the default (dilated), space_to_batch, and the
paper's (offsets); float32 against mixed_bfloat16 (default formulation); and the
serving graph exported with `export.precision` float32 against bfloat16 on the
same photographs (seconds per image, top-1 / top-5 agreement).

    python bench/multiscale.py [--image data/backgrounds/chelsea.jpg] [--repeats 2] \
        [--export-images 4]
"""

import argparse
import pathlib
import time

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


def _exports(weights, paths):
    """`export.precision` float32 against bfloat16: the serving graph
    (`ServingModule.classify_bytes`: decoding, six scales, flips, fine
    stride, the vote) on the same photographs, seconds per image and the
    top-5 of each."""
    from overfeat_tf.config import ExportConfig
    from overfeat_tf.serving import ServingModule

    model = OverFeat("accurate")
    model.set_weights(weights)
    data = [tf.constant([p.read_bytes()]) for p in paths]
    out = {}
    for precision in ("float32", "bfloat16"):
        serve = ServingModule(model, export=ExportConfig(precision=precision))
        serve.classify_bytes(data[0])  # traced before timing
        start = time.perf_counter()
        top5 = [serve.classify_bytes(d)["classes"].numpy()[0].tolist() for d in data]
        out[precision] = {
            "seconds_per_image": (time.perf_counter() - start) / len(data),
            "top5": top5,
        }
    pairs = list(zip(out["float32"]["top5"], out["bfloat16"]["top5"], strict=True))
    out["same_top1"] = sum(a[0] == b[0] for a, b in pairs) / len(pairs)
    out["same_top5_set"] = sum(set(a) == set(b) for a, b in pairs) / len(pairs)
    out["top5_overlap"] = sum(len(set(a) & set(b)) for a, b in pairs) / (5 * len(pairs))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=str(ROOT / "data/backgrounds/chelsea.jpg"))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--export-images",
        type=int,
        default=4,
        help="photographs of data/backgrounds through the float32 and "
        "bfloat16 exports (0: skip)",
    )
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
    rows = []
    if args.export_images:
        paths = sorted((ROOT / "data" / "backgrounds").glob("*.jpg"))
        exports = _exports(weights, paths[: args.export_images])
        results["export_precision"] = exports
        f32, b16 = exports["float32"], exports["bfloat16"]
        rows = [
            (
                "export.precision float32 / bfloat16 s/image",
                f"{f32['seconds_per_image']:.2f} / {b16['seconds_per_image']:.2f} "
                f"({f32['seconds_per_image'] / b16['seconds_per_image']:.2f}x), "
                f"{args.export_images} photographs",
            ),
            (
                "bfloat16 export vs float32: same top-1, same top-5, overlap",
                f"{exports['same_top1']:.0%}, {exports['same_top5_set']:.0%}, "
                f"{exports['top5_overlap']:.0%}",
            ),
        ]
    report(
        "multiscale",
        [
            *rows,
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
