"""The embedded TFDS datasets: boxes, splits, counts, determinism."""

import subprocess
import sys

import numpy as np
import pytest
import tensorflow_datasets as tfds
from conftest import build, cli_env
from PIL import Image

from overfeat_tf.data import fashion_scenes, neon_trees
from overfeat_tf.data.fashion_scenes import ITEM_RANGES, SceneConfig
from overfeat_tf.data.raw import raw_data_dir

NAMES = [
    "neon_trees",
    "fashion_scenes/classification",
    "fashion_scenes/localization",
    "fashion_scenes/detection",
]


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, counts",
    [
        # neon: YELL 6x5 tiles (last column of 5 is validation), OSBS and SOAP 2x2
        # (bottom-right is validation): train 25 + 3 + 3, validation 5 + 1 + 1.
        ("neon_trees", {"train": 31, "validation": 7}),
        (
            "fashion_scenes/classification",
            {"train": 6000, "validation": 500, "test": 1000},
        ),
        (
            "fashion_scenes/localization",
            {"train": 3000, "validation": 300, "test": 600},
        ),
        ("fashion_scenes/detection", {"train": 6000, "validation": 200, "test": 400}),
    ],
)
def test_counts_and_boxes(name, counts, tfds_dir):
    builder = build(name, tfds_dir)
    assert {k: v.num_examples for k, v in builder.info.splits.items()} == counts
    n_boxes = 0
    for split in counts:
        for ex in tfds.as_numpy(builder.as_dataset(split=split)):
            assert ex["image"].dtype == np.uint8 and ex["image"].shape[2] == 3
            if "objects" not in ex:
                assert 0 <= ex["label"] < 10
                continue
            boxes = ex["objects"]["bbox"]
            n_boxes += len(boxes)
            assert len(boxes) == len(ex["objects"]["label"])
            if len(boxes):
                # Inside the image and non-degenerate: 0 <= min < max <= 1.
                assert (boxes >= 0).all() and (boxes <= 1).all()
                assert (boxes[:, 2] > boxes[:, 0]).all() and (
                    boxes[:, 3] > boxes[:, 1]
                ).all()
            if name == "fashion_scenes/localization":
                assert len(boxes) == 1 and ex["objects"]["label"][0] == ex["label"]
    if name == "neon_trees":
        # The three XML files hold 279 + 61 + 37 boxes; each is in one tile.
        assert n_boxes == 279 + 61 + 37


def test_every_tree_box_lands_in_exactly_one_tile_clipped(tfds_dir):
    builder = build("neon_trees", tfds_dir)
    tiles = {}
    for split in ("train", "validation"):
        for ex in tfds.as_numpy(builder.as_dataset(split=split)):
            tiles[ex["image/filename"].decode()] = (split, ex)
    folder = raw_data_dir() / "neon_trees"
    for stem, cols, rows, _ in neon_trees.SOURCES:
        boxes = neon_trees.parse_voc_boxes(folder / f"{stem}.xml")
        h, w = np.asarray(Image.open(folder / f"{stem}.jpg")).shape[:2]
        grid = neon_trees.tile_grid(h, w, rows, cols)
        found = np.zeros(len(boxes), int)
        for r, c, top, left, bottom, right in grid:
            split, ex = tiles[f"{stem}_r{r}_c{c}"]
            assert ex["image"].shape[:2] == (bottom - top, right - left)
            cy, cx = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
            mine = (cy >= top) & (cy < bottom) & (cx >= left) & (cx < right)
            found += mine
            # The stored boxes, back in source pixels, are the clipped XML boxes.
            th, tw = bottom - top, right - left
            stored = ex["objects"]["bbox"] * [th, tw, th, tw] + [top, left, top, left]
            want = np.clip(boxes[mine], [top, left] * 2, [bottom, right] * 2)
            np.testing.assert_allclose(
                np.sort(stored, axis=0), np.sort(want, axis=0), atol=1e-3
            )
        np.testing.assert_array_equal(found, 1)


def test_neon_splits_are_disjoint_regions():
    # Tiles of one image never overlap, and each tile belongs to one split.
    grid = neon_trees.tile_grid(1035, 1249, 5, 6)
    cover = np.zeros((1035, 1249), int)
    for _, _, top, left, bottom, right in grid:
        cover[top:bottom, left:right] += 1
    np.testing.assert_array_equal(cover, 1)


@pytest.mark.parametrize("config", ["classification", "detection"])
def test_fashion_splits_share_no_items_or_photographs(config, tmp_path, monkeypatch):
    # What the builder draws from, split by split: the items and photographs
    # render_scene receives. Catches a builder that gives every split the
    # train split's items or photographs (the constant tables could still
    # be disjoint).
    drawn = []

    def spy(rng, scene_config, photos, items, labels):
        drawn.append((photos, items, labels))
        return real(rng, scene_config, photos, items, labels)

    real = fashion_scenes.render_scene
    monkeypatch.setattr(fashion_scenes, "render_scene", spy)
    builder = tfds.builder(f"fashion_scenes/{config}", data_dir=str(tmp_path))
    seen = {}
    for split, examples in builder._split_generators(None).items():
        next(iter(examples))
        photos, items, labels = drawn[-1]
        seen[split] = (
            {p.tobytes() for p in photos},
            {i.tobytes() for i in items},
        )
        # Every class, with the split's share of each class's 500 items.
        lo, hi = ITEM_RANGES[split]
        np.testing.assert_array_equal(np.bincount(labels, minlength=10), hi - lo)
    assert len(seen) == 3
    for a in seen:
        for b in seen:
            if a < b:
                assert not seen[a][0] & seen[b][0], (a, b)
                assert not seen[a][1] & seen[b][1], (a, b)


def _shards(builder):
    return {
        p.name: p.read_bytes() for p in sorted(builder.data_path.glob("*.tfrecord*"))
    }


def test_builds_are_deterministic(tmp_path):
    small = SceneConfig(
        name="detection_check",
        task="detection",
        image_size=96,
        min_objects=0,
        max_objects=6,
        num_examples=(("train", 24), ("validation", 6), ("test", 6)),
    )
    shards = []
    for i in range(2):
        builder = tfds.builder(
            "fashion_scenes", config=small, data_dir=str(tmp_path / f"f{i}")
        )
        builder.download_and_prepare()
        neon = tfds.builder("neon_trees", data_dir=str(tmp_path / f"n{i}"))
        neon.download_and_prepare()
        shards.append((_shards(builder), _shards(neon)))
    assert shards[0][0] and shards[0][1]
    assert shards[0] == shards[1]


def test_load_after_importing_the_package(tfds_dir):
    build("fashion_scenes/detection", tfds_dir)
    code = (
        "import overfeat_tf, tensorflow_datasets as tfds;"
        "ds = tfds.load('fashion_scenes/detection', split='test', "
        f"data_dir={tfds_dir!r});"
        "print(len(list(ds)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cli_env()
    )
    assert out.stdout.strip() == "400", out.stderr[-2000:]


def test_contact_sheet_command(tfds_dir, tmp_path):
    build("fashion_scenes/localization", tfds_dir)
    out = tmp_path / "sheet.png"
    from overfeat_tf.cli import main

    assert (
        main(
            [
                "contact-sheet",
                "fashion_scenes/localization",
                "--data-dir",
                tfds_dir,
                "--count",
                "6",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    sheet = np.asarray(Image.open(out))
    assert sheet.shape[0] > 2 * 128 and sheet.shape[1] > 4 * 128
    assert sheet.std() > 10  # not blank


def test_fashion_box_is_the_tight_box_of_alpha_half():
    # An item whose core (alpha 1) and faint ring (alpha 0.31) are known,
    # at scale 1 on a black photograph: the box must be the core's, where
    # alpha >= 0.5, in the scene's coordinates. Catches a box of every
    # visible pixel (the ring), one pixel too wide or short, or one left
    # unmirrored when the item is.
    item = np.zeros((28, 28), np.uint8)
    item[3:22, 6:27] = 20  # alpha 20 / 255 * 4 = 0.31
    item[5:20, 8:23] = 255  # alpha 1; 2 ring columns left of it, 4 right
    config = SceneConfig(name="t", image_size=64, min_scale=1.0, max_scale=1.0)
    black = [np.zeros((80, 80, 3), np.uint8)]
    mirrored_seen = set()
    for seed in range(12):
        rng = np.random.default_rng(seed)
        image, boxes, labels = fashion_scenes.render_scene(
            rng, config, black, item[None], np.array([4])
        )
        assert labels.tolist() == [4]
        rows = np.flatnonzero(image.max(axis=(1, 2)) > 0)
        cols = np.flatnonzero(image.max(axis=(0, 2)) > 0)
        assert rows[-1] - rows[0] == 18 and cols[-1] - cols[0] == 20  # the ring
        # Unmirrored, the core starts 2 columns into the ring; mirrored, 4.
        mirrored = bool(image[rows[0] + 2, cols[0] + 2].max() < 100)
        top = rows[0] - 3
        left = cols[0] - (1 if mirrored else 6)
        core = (5, 20) if mirrored else (8, 23)
        want = [top + 5, left + core[0], top + 20, left + core[1]]
        np.testing.assert_allclose(boxes[0] * 64, want, atol=1e-4)
        mirrored_seen.add(mirrored)
    assert mirrored_seen == {False, True}


def test_png_datasets_stay_decoded_for_training(tfds_dir):
    # load_split(decode=False) keeps only JPEG-stored images encoded: the
    # embedded datasets' PNGs must be decoded whole anyway, and handing them
    # over encoded only adds the header checks to every training example.
    from overfeat_tf.data.pipeline import load_split

    build("fashion_scenes/classification", tfds_dir)
    ds, _ = load_split("fashion_scenes/classification", "train", tfds_dir, decode=False)
    assert ds.element_spec["image"].dtype == "uint8"


def test_classification_items_come_at_every_scale_tinted_and_untinted():
    # fashion_scenes/classification 2.0.0: items from a quarter of the
    # image's side to all of it, a third of them left grey. Rendered on a
    # black photograph, so the item's pixels are the scene's non-black ones.
    # Catches the config left at the 1.0.0 scales (3.2x-4x), a scale drawn
    # outside 1x-4x, and items always (or never) tinted.
    (config,) = [
        c
        for c in fashion_scenes.FashionScenes.BUILDER_CONFIGS
        if c.name == "classification"
    ]
    data = np.load(raw_data_dir() / "fashion_mnist" / "items.npz")
    black = [np.zeros((300, 300, 3), np.uint8)]
    sides, grey = [], []
    for seed in range(150):
        rng = np.random.default_rng(seed)
        image, boxes, _ = fashion_scenes.render_scene(
            rng, config, black, data["images"][:200], data["labels"][:200]
        )
        (box,) = boxes
        sides.append(max(box[2] - box[0], box[3] - box[1]))
        pixels = image[image.max(-1) > 60].astype(int)
        grey.append(bool((np.ptp(pixels, axis=-1) <= 2).all()))
    sides = np.array(sides)
    assert sides.min() < 0.3 and sides.max() > 0.95, (sides.min(), sides.max())
    assert (sides > 0.15).all()
    assert ((sides > 0.3) & (sides < 0.5)).mean() > 0.15
    assert 0.2 < np.mean(grey) < 0.5, np.mean(grey)
