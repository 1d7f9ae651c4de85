"""Training input pipeline throughput from real JPEG files, old paths and new.

The paper's recipe (short side 256, random 221x221 crop, random flip, batches
of 128), measured in one run on the same images:

- `resize whole (first)`: decode the whole JPEG, resize the whole image,
  crop (what `train_dataset` did before `random_resized_crop_flip`);
- `fused, JPEG input` (`load_split(..., decode=False)`, what training uses):
  the JPEG is decoded only where the crop reads it and resized into the
  crop alone, with the antialiasing filter;
- `fused, JPEG input, bilinear` (`data.antialias=false`): the same crops
  resized by bilinear sampling;
- `..., bilinear, JPEG only` (`data.jpeg_only=true`; the ImageNet presets
  set both): the same crops without the per-image format check;
- `..., bilinear, before`: the bilinear path under tf.data's default options
  (autotuning on), its crop mirrored by a second pass
  (`stateless_random_flip_left_right`), batched after the epoch's
  `flat_map`;
- `..., bilinear, batched after`: as now, but batched after the epoch's
  `flat_map` (not fused with the map).

Each pass also reports the CPU time it took per wall second (2.0: both
cores busy), which tells a slow machine from a pipeline left on one core.

Two sets of JPEGs: the repository's photographs as they are (data/backgrounds,
300x451 to 872x1000), and the same photographs as ImageNet-sized JPEGs
(500x375 and 375x500, quality 90, ImageNet's commonest sizes):

    python bench/input_pipeline.py [--examples 3000] [--repeats 3]
"""

import argparse
import io
import os
import pathlib
import statistics
import time

import tensorflow as tf
from _common import report
from PIL import Image

from overfeat_tf.data.pipeline import (
    _bilinear_window,
    _options,
    _parallel_calls,
    _resized_window,
    _window_source,
    random_crop_flip,
    random_resized_crop_flip,
    resize_short_side,
    train_dataset,
)

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _imagenet_sized(files):
    """Each photograph as a 500x375 (landscape) or 375x500 JPEG, quality 90."""
    out = []
    for i, path in enumerate(files):
        size = (500, 375) if i % 2 == 0 else (375, 500)
        image = Image.open(path).convert("RGB").resize(size, Image.BICUBIC)
        buf = io.BytesIO()
        image.save(buf, format="jpeg", quality=90)
        out.append(buf.getvalue())
    return out


def _previous(raw, examples, batch):
    """The pipeline as it was: the whole image resized, then cropped."""

    def prepare(index, example):
        image = resize_short_side(example["image"], 256)
        seed = tf.stack([tf.constant(0, tf.int64), index])
        return random_crop_flip(image, 221, seed), example["label"]

    out = raw.take(examples).shuffle(256, seed=0).enumerate()
    out = out.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return out.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def _crop_fn(antialias, mirror_by_box=True, jpeg_only=False):
    """The training map's crop (`random_resized_crop_flip`); without
    `mirror_by_box`, its bilinear crop mirrored by a second pass, as it was."""

    def prepare(index, example):
        seed = tf.stack([tf.constant(0, tf.int64), index])
        if mirror_by_box:
            crop = random_resized_crop_flip(
                example["image"], 221, 256, seed, antialias, jpeg_only
            )
            return crop, example["label"]
        source, origin, hw, new_hw, offset = _window_source(
            example["image"], 221, 256, seed
        )
        resize = _resized_window if antialias else _bilinear_window
        crop = resize(source, origin, hw, new_hw, offset, 221)
        flip_seed = tf.random.experimental.stateless_split(seed, 2)[1]
        crop = tf.image.stateless_random_flip_left_right(crop, flip_seed)
        return crop, example["label"]

    return prepare


def _batched_after(raw, examples, batch, prepare, autotune):
    """`train_dataset`'s one-crop path with the batch after the epoch's
    `flat_map`, where tf.data does not fuse it with the map; with
    `autotune`, under tf.data's default options."""

    def one_epoch(_):
        shuffled = raw.take(examples).shuffle(256, seed=0)
        calls = tf.data.AUTOTUNE if autotune else _parallel_calls()
        return shuffled.enumerate().map(prepare, num_parallel_calls=calls)

    out = tf.data.Dataset.range(1).flat_map(one_epoch)
    out = out.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = False
    return out.with_options(options if autotune else _options(False))


def _rate(pipe):
    """(examples per second, CPU seconds per second) of one pass over
    `pipe`, its threads warmed first."""
    next(iter(pipe))
    start, cpu = time.perf_counter(), time.process_time()
    count = sum(int(x.shape[0]) for x, _ in pipe)
    wall = time.perf_counter() - start
    return count / wall, (time.process_time() - cpu) / wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="passes over each path, taken in turn; the median is reported",
    )
    args = parser.parse_args()

    files = sorted((ROOT / "data" / "backgrounds").glob("*.jpg"))
    sets = {
        "repository JPEGs": [f.read_bytes() for f in files],
        "ImageNet-sized JPEGs": _imagenet_sized(files),
    }
    cores = os.cpu_count()
    rows, results = [], {"cores": cores, "examples": args.examples}
    for set_name, blobs in sets.items():
        encoded = tf.data.Dataset.from_tensor_slices(blobs).repeat()
        encoded = encoded.map(lambda b: {"image": b, "label": tf.constant(0)})
        decoded = encoded.map(  # in parallel, as TFDS decodes
            lambda e: {**e, "image": tf.io.decode_jpeg(e["image"], channels=3)},
            num_parallel_calls=tf.data.AUTOTUNE,
        )

        def fused(raw, antialias=True, jpeg_only=False):
            return train_dataset(
                raw.take(args.examples),
                221,
                256,
                args.batch,
                seed=0,
                shuffle_buffer=256,
                antialias=antialias,
                jpeg_only=jpeg_only,
            )

        bilinear = "fused, JPEG input, bilinear"
        paths = {
            "resize whole (first)": _previous(decoded, args.examples, args.batch),
            "fused, JPEG input": fused(encoded),
            f"{bilinear}, before": _batched_after(
                encoded, args.examples, args.batch, _crop_fn(False, False), True
            ),
            f"{bilinear}, batched after": _batched_after(
                encoded, args.examples, args.batch, _crop_fn(False), False
            ),
            bilinear: fused(encoded, antialias=False),
            f"{bilinear}, JPEG only": fused(encoded, False, jpeg_only=True),
        }
        passes = {name: [] for name in paths}
        for _ in range(args.repeats):  # in turn: a busy spell slows every path
            for path_name, pipe in paths.items():
                passes[path_name].append(_rate(pipe))
        rates = {n: statistics.median(r for r, _ in p) for n, p in passes.items()}
        for path_name, rate in rates.items():
            each = passes[path_name]
            rows.append(
                (
                    f"{set_name}, {path_name}",
                    f"{rate:.0f} /s, {rate / cores:.0f} /s/core (passes "
                    + ", ".join(f"{r:.0f}" for r, _ in each)
                    + "; CPU "
                    + ", ".join(f"{c:.2f}" for _, c in each)
                    + ")",
                )
            )
        first = rates["resize whole (first)"]
        for path_name, over in (
            (bilinear, f"{bilinear}, before"),
            (bilinear, f"{bilinear}, batched after"),
            (f"{bilinear}, JPEG only", bilinear),
            (f"{bilinear}, JPEG only", f"{bilinear}, before"),
        ):
            rows.append(
                (
                    f"{set_name}: {path_name} over '{over}' / over first",
                    f"{rates[path_name] / rates[over]:.2f}x / "
                    f"{rates[path_name] / first:.2f}x",
                )
            )
        results[set_name] = {
            name: {
                "examples_per_second": r,
                "examples_per_second_per_core": r / cores,
                "passes": [p for p, _ in passes[name]],
                "cpu_seconds_per_second": [c for _, c in passes[name]],
            }
            for name, r in rates.items()
        }
    report("input_pipeline", rows, results)


if __name__ == "__main__":
    main()
