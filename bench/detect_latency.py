"""A SavedModel's `detect_bytes` against its `classify_bytes`, on dense scenes.

    python bench/detect_latency.py [--tiles 8] [--scenes 8] [--repeats 3]

Two committed exports, each on images of its own kind, one JPEG per
request:

- `saved_models/neon_trees/1` on 400 px tiles of `data/neon_trees` (whole
  400 px photographs, then the large crop cut into 400 px tiles): tree
  crowns packed edge to edge, hundreds of candidate boxes per tile;
- `saved_models/fashion_demo/8` on `fashion_scenes` detection scenes of the
  test split (192 px, 0-6 items) and on denser ones drawn the same way
  (384 px, 12-20 items).

The committed SavedModels hold the merge of their day ("sequential": one
merge per loop step) in their graphs. Each is re-exported into a temporary
folder from its own variables and config (`load_exported_network`,
`export_saved_model`), which bakes in today's default merge ("grouped").
For each image: `classify_bytes`, the committed `detect_bytes` and the
re-exported one (median of `--repeats` calls after one warm-up). Then the
two halves apart, outside the SavedModel: the network (`maps` of the
export's `MultiScaleDetector`, all scales and flips) and the merge of the
candidate boxes it leaves (`greedy_merge` per class, both methods). The
two exports must give the same detections (to float32 rounding).
"""

import argparse
import dataclasses
import io
import pathlib
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf
from _common import median_seconds, report
from PIL import Image

from overfeat_tf.data.fashion_scenes import (
    render_scene,
    scene_config,
    split_items,
    split_photos,
)
from overfeat_tf.ops.detect import MultiScaleDetector, _candidates
from overfeat_tf.ops.merge import greedy_merge
from overfeat_tf.serving import (
    export_saved_model,
    load_exported_network,
    load_saved_model,
)

ROOT = pathlib.Path(__file__).resolve().parent.parent
TILE = 400
SIG = [tf.TensorSpec([None, 4]), tf.TensorSpec([None]), tf.TensorSpec([])]
MERGES = {
    method: tf.function(
        lambda b, s, t, method=method: greedy_merge(b, s, t, method=method),
        input_signature=SIG,
    )
    for method in ("grouped", "sequential")
}


def _jpeg(pixels) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.asarray(pixels, np.uint8)).save(out, format="jpeg", quality=90)
    return out.getvalue()


def neon_tiles(count):
    """JPEG bytes of 400 px tiles of the repository's NEON photographs."""
    tiles = []
    for path in sorted((ROOT / "data" / "neon_trees").glob("*.jpg")):
        photo = np.asarray(Image.open(path).convert("RGB"))
        h, w = photo.shape[:2]
        for top in range(0, h - TILE + 1, TILE):
            for left in range(0, w - TILE + 1, TILE):
                tiles.append(_jpeg(photo[top : top + TILE, left : left + TILE]))
    return tiles[:count]


def fashion_scenes(count, dense):
    """JPEG bytes of `fashion_scenes/detection` test scenes, or denser ones."""
    config = scene_config("detection")
    if dense:
        config = dataclasses.replace(
            config, image_size=384, min_objects=12, max_objects=20
        )
    photos = split_photos("test")
    items, labels = split_items("test")
    return [
        _jpeg(
            render_scene(np.random.default_rng([7, i]), config, photos, items, labels)[
                0
            ]
        )
        for i in range(count)
    ]


def call(fn, image):
    """One request of one image; returns the numpy outputs."""
    return {k: v.numpy() for k, v in fn(image_bytes=tf.constant([image])).items()}


def same_detections(a, b) -> bool:
    return bool(
        np.array_equal(a["num_detections"], b["num_detections"])
        and np.array_equal(a["detection_classes"], b["detection_classes"])
        and np.allclose(a["detection_boxes"], b["detection_boxes"], atol=1e-5)
        and np.allclose(a["detection_scores"], b["detection_scores"], rtol=1e-5)
    )


def halves(detector, images, merge_threshold, detect_threshold, repeats):
    """Per image: network seconds, candidate boxes, merge seconds per method."""
    maps_fn = tf.function(
        detector.maps, input_signature=[tf.TensorSpec([1, None, None, 3])]
    )
    network, candidates, merge = [], [], {m: [] for m in MERGES}
    t = np.float32(merge_threshold)
    for image in images:
        pixels = tf.cast(tf.io.decode_jpeg(image, channels=3), tf.float32)[None]
        network.append(
            median_seconds(
                lambda p=pixels: [x.numpy() for x in tf.nest.flatten(maps_fn(p))],
                repeats,
            )
        )
        boxes, scores, classes = (
            x[0].numpy() for x in _candidates(maps_fn(pixels), detect_threshold)
        )
        keep = scores >= 0
        boxes, scores, classes = boxes[keep], scores[keep], classes[keep]
        candidates.append(len(scores))
        groups = [
            (boxes[classes == c], scores[classes == c]) for c in np.unique(classes)
        ]
        for method, fn in MERGES.items():

            def run(fn=fn, groups=groups):
                for b, s in groups:
                    fn(b, s, t)[2].numpy()

            merge[method].append(median_seconds(run, repeats))
    return network, candidates, merge


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiles", type=int, default=8)
    parser.add_argument("--scenes", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs = (
        ("neon_trees/1", "400 px tiles", neon_tiles(args.tiles)),
        ("fashion_demo/8", "scenes 192 px", fashion_scenes(args.scenes, dense=False)),
        (
            "fashion_demo/8",
            "dense scenes 384 px",
            fashion_scenes(args.scenes, dense=True),
        ),
    )
    rows = [
        (
            "model, images",
            "n  classify ms  detect ms: committed (sequential)  re-exported (grouped)"
            "  grouped/classify",
        )
    ]
    results = []
    exports = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, what, images in runs:
            committed_dir = ROOT / "saved_models" / name
            if name not in exports:
                model, names, config = load_exported_network(committed_dir)
                start = time.perf_counter()
                fresh_dir = export_saved_model(
                    model, pathlib.Path(tmp) / name.split("/")[0], names, config
                )
                export_s = time.perf_counter() - start
                detector = MultiScaleDetector.from_export(model, config.export)
                exports[name] = (
                    load_saved_model(committed_dir),
                    tf.saved_model.load(fresh_dir),
                    detector,
                    config.export,
                    export_s,
                )
            committed, fresh, detector, export, export_s = exports[name]
            times = {"classify": [], "committed": [], "fresh": []}
            agree = True
            for image in images:
                fns = {
                    "classify": committed.signatures["classify_bytes"],
                    "committed": committed.signatures["detect_bytes"],
                    "fresh": fresh.signatures["detect_bytes"],
                }
                for key, fn in fns.items():
                    times[key].append(
                        median_seconds(lambda fn=fn, i=image: call(fn, i), args.repeats)
                    )
                agree &= same_detections(
                    call(fns["committed"], image), call(fns["fresh"], image)
                )
            network, candidates, merge = halves(
                detector,
                images,
                export.merge_threshold,
                export.detect_threshold,
                args.repeats,
            )
            ms = {k: 1e3 * float(np.mean(v)) for k, v in times.items()}
            merge_ms = {k: 1e3 * float(np.mean(v)) for k, v in merge.items()}
            label = f"{name}, {what}"
            rows += [
                (
                    label,
                    f"{len(images)}  {ms['classify']:11.1f}  {ms['committed']:31.1f}"
                    f"  {ms['fresh']:21.1f}  {ms['fresh'] / ms['classify']:15.2f}x",
                ),
                (
                    "  apart: network | candidates | merge",
                    f"{1e3 * np.mean(network):.1f} ms | {np.mean(candidates):.0f} "
                    f"(max {max(candidates)}) | grouped {merge_ms['grouped']:.1f} ms, "
                    f"sequential {merge_ms['sequential']:.1f} ms",
                ),
                ("  same detections, both exports", str(agree)),
            ]
            results.append(
                {
                    "model": name,
                    "images": what,
                    "count": len(images),
                    "classify_ms": ms["classify"],
                    "detect_committed_ms": ms["committed"],
                    "detect_reexported_ms": ms["fresh"],
                    "network_ms": 1e3 * float(np.mean(network)),
                    "candidates_mean": float(np.mean(candidates)),
                    "candidates_max": int(max(candidates)),
                    "merge_grouped_ms": merge_ms["grouped"],
                    "merge_sequential_ms": merge_ms["sequential"],
                    "same_detections": agree,
                    "export_s": export_s,
                    "merge_threshold": export.merge_threshold,
                    "detect_threshold": export.detect_threshold,
                }
            )
    report("detect_latency", rows, {"repeats": args.repeats, "results": results})


if __name__ == "__main__":
    sys.exit(main())
