"""The classification input pipeline: shapes, ranges, crops, determinism."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from overfeat_tf.data.pipeline import (
    center_crop,
    eval_dataset,
    load_split,
    random_crop_flip,
    random_crops,
    random_resized_crop_flip,
    resize_short_side,
    train_dataset,
)


def test_resize_short_side_hand_worked():
    # 300x400 -> shorter side 256: scale 256 / 300, so 256 x round(341.33) = 341.
    out = resize_short_side(tf.zeros((300, 400, 3), tf.uint8), 256)
    assert tuple(out.shape) == (256, 341, 3)
    assert tuple(resize_short_side(tf.zeros((500, 100, 3)), 98).shape) == (490, 98, 3)


def test_center_crop_is_the_middle():
    image = np.arange(7 * 9 * 3, dtype=np.float32).reshape(7, 9, 3)
    # (7 - 3) // 2 = 2 rows and (9 - 3) // 2 = 3 columns off the top-left.
    np.testing.assert_array_equal(center_crop(image, 3), image[2:5, 3:6])


def test_random_crop_flip_is_a_crop_and_stateless():
    image = tf.reshape(tf.range(20 * 30 * 3, dtype=tf.float32), (20, 30, 3))
    for i in range(20):
        seed = tf.constant([7, i], tf.int64)
        crop = random_crop_flip(image, 11, seed).numpy()
        np.testing.assert_array_equal(crop, random_crop_flip(image, 11, seed).numpy())
        # Find the crop in the image, mirrored or not.
        top = int(crop[0, :, 0].min()) // (30 * 3)
        left = int(crop[:, :, 0].min() - top * 90) // 3
        window = image.numpy()[top : top + 11, left : left + 11]
        assert (crop == window).all() or (crop == window[:, ::-1]).all()


@pytest.mark.parametrize("split", ["train", "validation"])
def test_pipeline_on_mock_imagenet(split):
    with tfds.testing.mock_data(num_examples=12):
        ds, n = load_split("imagenet2012", split)
        raw = list(tfds.as_numpy(ds.take(3)))
        if split == "train":
            out = train_dataset(
                ds, 221, 256, 4, seed=3, shuffle_buffer=16, deterministic=True
            )
        else:
            out = eval_dataset(ds, 221, 256, 4)
        batches = list(tfds.as_numpy(out))
    assert n > 0
    images, labels = batches[0]
    assert images.shape == (4, 221, 221, 3) and images.dtype == np.float32
    assert labels.shape == (4,) and labels.dtype == np.int32
    for images, labels in batches:
        assert images.min() >= 0 and images.max() <= 255
        assert ((labels >= 0) & (labels < 1000)).all()
    if split == "validation":
        # Eval is the centre crop of the resized image, in order.
        want = center_crop(resize_short_side(raw[0]["image"], 256), 221).numpy()
        np.testing.assert_allclose(batches[0][0][0], want, atol=1e-4)
        assert batches[0][1][0] == raw[0]["label"]


def test_train_order_depends_on_epoch_only(tmp_path):
    ds = tf.data.Dataset.from_tensor_slices(
        {
            "image": tf.random.uniform((40, 30, 30, 3), 0, 255, tf.int32, seed=1),
            "label": tf.range(40),
        }
    ).map(lambda e: {"image": tf.cast(e["image"], tf.uint8), "label": e["label"]})
    epoch = tf.Variable(0, dtype=tf.int64)
    pipe = train_dataset(
        ds, 24, 28, 8, seed=5, epoch=epoch, shuffle_buffer=40, deterministic=True
    )

    def labels():
        return np.concatenate([y.numpy() for _, y in pipe])

    first, again = labels(), labels()
    epoch.assign(1)
    second = labels()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)
    assert sorted(first) == sorted(second) == list(range(40))


def _where(crop, image):
    """(top, left, mirrored) of `crop` in `image`, by search."""
    n = crop.shape[0]
    for top in range(image.shape[0] - n + 1):
        for left in range(image.shape[1] - n + 1):
            window = image[top : top + n, left : left + n]
            for mirrored in (False, True):
                if np.array_equal(crop, window[:, ::-1] if mirrored else window):
                    return top, left, mirrored
    raise AssertionError("not a crop of the image")


def _copies(image, n):
    """A TFDS-like dataset of `n` copies of one uint8 image, labels 0..n-1."""
    return tf.data.Dataset.from_tensor_slices(
        {"image": np.repeat(image[None], n, axis=0), "label": np.arange(n)}
    )


IMAGE = np.random.default_rng(8).integers(0, 256, (20, 20, 3), np.uint8)


def test_crops_and_flips_vary_across_epochs_and_elements():
    # Catches a crop seed that drops the epoch (every epoch the same crops)
    # or the element (every image cropped alike), and a flip that never or
    # always happens. One image, so the shuffle cannot hide a fixed crop.
    epoch = tf.Variable(0, dtype=tf.int64)
    one = train_dataset(_copies(IMAGE, 1), 12, 20, 1, seed=2, epoch=epoch)
    per_epoch = []
    for e in range(8):
        epoch.assign(e)
        (images, _), *_ = list(tfds.as_numpy(one))
        per_epoch.append(_where(images[0].astype(np.uint8), IMAGE))
    assert len(set(per_epoch)) >= 4, per_epoch
    assert {m for *_, m in per_epoch} == {False, True}, per_epoch
    epoch.assign(0)
    many = train_dataset(_copies(IMAGE, 8), 12, 20, 8, seed=2, epoch=epoch)
    (images, _), *_ = list(tfds.as_numpy(many))
    places = [_where(x.astype(np.uint8), IMAGE) for x in images]
    assert len(set(places)) >= 4, places
    assert len({(t, left) for t, left, _ in places}) >= 3, places


def test_crops_per_image_with_their_flips():
    # data.crops_per_image = 3, flip_copies: each image gives three random
    # crops, then their mirrors, one after the other, with its label.
    # Catches copies that are not mirrors of the crops, crops that are all
    # the same, and labels that lose their image.
    pipe = train_dataset(
        _copies(IMAGE, 4),
        12,
        20,
        6,
        seed=4,
        crops_per_image=3,
        flip_copies=True,
        deterministic=True,
    )
    batches = list(tfds.as_numpy(pipe))
    assert len(batches) == 4  # 4 images x 6 examples, 6 to a batch
    places = []
    for images, labels in batches:
        assert len(set(labels)) == 1
        images = images.astype(np.uint8)
        np.testing.assert_array_equal(images[3:], images[:3, :, ::-1])
        where = [_where(x, IMAGE) for x in images[:3]]
        assert all(not m for *_, m in where)  # the crops themselves unmirrored
        places += [(t, left) for t, left, _ in where]
    assert sorted(np.concatenate([y for _, y in batches])[::6]) == [0, 1, 2, 3]
    assert len(set(places)) >= 6, places


def test_one_crop_is_the_element_seeds_crop():
    # crops_per_image = 1 (the presets) crops as random_crop_flip at the
    # element's seed: the crops of runs trained before the option existed.
    image = tf.constant(IMAGE, tf.float32)
    for i in range(6):
        seed = tf.constant([11, i], tf.int64)
        np.testing.assert_array_equal(
            random_crops(image, 12, seed)[0], random_crop_flip(image, 12, seed)
        )


def _encoded(image, fmt, **kwargs):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _photo_like(rng, h, w):
    """Smooth colour gradients with noise: JPEG keeps it close, and every
    pixel differs from its neighbours (a misplaced window shows)."""
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    phase = rng.uniform(0, 6, 3)
    base = [np.sin(7 * x + 5 * y + p) for p in phase]
    image = 127 + 90 * np.stack(base, -1) + rng.normal(0, 12, (h, w, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("antialias", [True, False])
def test_fused_crop_equals_resize_then_crop(antialias):
    # random_resized_crop_flip against the slow, obvious path it replaces
    # (resize the whole image, crop, flip), over 40 seeds and image shapes
    # larger, smaller and equal to the short side, decoded and as PNG, with
    # the antialiased resize and with bilinear sampling (tf.image.resize's
    # ResizeBilinear). Catches a window drawn from another seed, a
    # translation of the wrong sign or scale, rows and columns swapped, a
    # flip lost, a bilinear tap off by half a pixel or unclamped at an edge.
    rng = np.random.default_rng(0)
    for i in range(40):
        h, w = rng.integers(30, 140, 2)
        short = int(rng.integers(24, 80))
        window = int(rng.integers(8, short + 1))
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        seed = tf.constant([i, 3 * i + 1], tf.int64)
        want = random_crop_flip(
            resize_short_side(image, short, antialias), window, seed
        )
        got = random_resized_crop_flip(
            tf.constant(image), window, short, seed, antialias
        )
        np.testing.assert_allclose(got, want, atol=1e-2, err_msg=f"{h}x{w} {short}")
        png = random_resized_crop_flip(
            tf.constant(_encoded(image, "png")), window, short, seed, antialias
        )
        np.testing.assert_allclose(png, want, atol=1e-2, err_msg=f"{h}x{w} {short}")


def test_fused_crop_larger_than_the_short_side_is_refused():
    # The reference path's crop fails on a window larger than the image; the
    # fused one would draw its offset modulo a room of zero or less.
    with pytest.raises(ValueError, match="window=30, resize_short=24"):
        random_resized_crop_flip(tf.zeros((40, 50, 3)), 30, 24, tf.constant([1, 2]))


@pytest.mark.parametrize("antialias", [True, False])
def test_jpeg_decoded_where_the_crop_reads_equals_the_whole_decode(antialias):
    # A JPEG is decoded only around the window (decode_and_crop_jpeg): the
    # crop must equal the reference path on the whole decoded image.
    # Catches a decoded region too small for the resize kernel's reach
    # (edge pixels then blend fewer neighbours) or misplaced in the image,
    # and bilinear taps indexed in the image instead of the region. The
    # JPEG-only path (no format check) must cut the same crops.
    rng = np.random.default_rng(1)
    for i in range(24 if antialias else 12):
        h, w = rng.integers(200, 700, 2)
        data = _encoded(_photo_like(rng, h, w), "jpeg", quality=90)
        decoded = tf.io.decode_jpeg(data, channels=3)
        seed = tf.constant([5, i], tf.int64)
        want = random_crop_flip(resize_short_side(decoded, 256, antialias), 221, seed)
        for jpeg_only in (False, True) if i % 2 else (False,):
            got = random_resized_crop_flip(
                tf.constant(data), 221, 256, seed, antialias, jpeg_only
            )
            np.testing.assert_allclose(
                got, want, atol=1e-2, err_msg=f"{h}x{w} jpeg_only={jpeg_only}"
            )


def test_jpeg_only_reaches_the_pipeline_and_refuses_other_formats():
    # data.jpeg_only through the trainer's pipeline (ClassifyTask): PNG
    # bytes train with it off, and stop training with an error naming the
    # switch with it on. Catches the switch dropped between the config and
    # the pipeline, and a JPEG-only path without its guard (TensorFlow's
    # own error, "Invalid JPEG data or crop window", does not say what to
    # change).
    from types import SimpleNamespace

    from overfeat_tf.config import Config
    from overfeat_tf.train.tasks import ClassifyTask

    rng = np.random.default_rng(4)
    pngs = [_encoded(rng.integers(0, 256, (40, 50, 3), np.uint8), "png") for _ in "ab"]
    ds = tf.data.Dataset.from_tensor_slices({"image": pngs, "label": [0, 1]})
    config = Config()
    config.data.resize_short, config.data.shuffle_buffer = 24, 2
    spec = SimpleNamespace(window=16)
    ((images, labels),) = list(ClassifyTask().train_dataset(ds, config, spec, 2, 0))
    assert images.shape == (2, 16, 16, 3)
    config.data.jpeg_only = True
    with pytest.raises(tf.errors.InvalidArgumentError, match="data.jpeg_only"):
        list(ClassifyTask().train_dataset(ds, config, spec, 2, 0))


def test_pipeline_takes_encoded_images_and_crops_as_from_decoded():
    # load_split(decode=False) hands the pipeline JPEG bytes: the batches
    # equal those of the same JPEGs decoded first, crop for crop. Catches an
    # encoded path that crops elsewhere, or mixes up examples and labels.
    with tfds.testing.mock_data(num_examples=8):
        encoded, _ = load_split("imagenet2012", "train", decode=False)
        assert encoded.element_spec["image"].dtype == tf.string
        decoded = encoded.map(
            lambda e: {**e, "image": tf.io.decode_jpeg(e["image"], channels=3)}
        )
        pipes = [
            train_dataset(ds, 221, 256, 4, seed=3, shuffle_buffer=8, deterministic=True)
            for ds in (encoded, decoded)
        ]
        a, b = (list(tfds.as_numpy(pipe)) for pipe in pipes)
    assert len(a) == len(b) == 2
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_allclose(xa, xb, atol=1e-2)


def test_classify_task_resizes_as_data_antialias_says():
    # The trainer's pipeline (ClassifyTask.train_dataset) honours
    # data.antialias: its batches are train_dataset's with that flag, and
    # the two settings differ. Catches the flag dropped between the config
    # and the pipeline (the ImageNet presets would then train slower,
    # antialiased, without a word).
    from types import SimpleNamespace

    from overfeat_tf.config import Config
    from overfeat_tf.train.tasks import ClassifyTask

    rng = np.random.default_rng(2)
    ds = tf.data.Dataset.from_tensor_slices(
        {"image": rng.integers(0, 256, (4, 40, 50, 3), np.uint8), "label": [0, 1, 2, 3]}
    )
    batches = {}
    for antialias in (True, False):
        config = Config()
        config.data.resize_short, config.data.antialias = 24, antialias
        config.data.shuffle_buffer, config.train.deterministic = 4, True
        got = ClassifyTask().train_dataset(ds, config, SimpleNamespace(window=16), 4, 0)
        want = train_dataset(
            ds, 16, 24, 4, shuffle_buffer=4, deterministic=True, antialias=antialias
        )
        (batches[antialias],) = [x for x, _ in got]
        np.testing.assert_array_equal(batches[antialias], next(iter(want))[0])
    assert np.abs(batches[True] - batches[False]).max() > 5


def test_scale_jitter_draws_every_short_side_of_its_range():
    # data.resize_short_max through the trainer's pipeline: a horizontal
    # ramp (2 grey levels a pixel, 100 px short side) shows in each crop the
    # shorter side it was cut at (the ramp's step is 200 / side). Catches
    # the option dropped between the config and the pipeline, a range drawn
    # past either end (or only its ends), or one side for every image.
    from types import SimpleNamespace

    from overfeat_tf.config import Config
    from overfeat_tf.train.tasks import ClassifyTask

    ramp = np.broadcast_to(
        np.arange(120, dtype=np.uint8)[None, :, None] * 2, (100, 120, 3)
    )
    ds = tf.data.Dataset.from_tensor_slices(
        {"image": np.stack([ramp] * 64), "label": np.zeros(64, np.int64)}
    )
    config = Config()
    config.data.resize_short, config.data.resize_short_max = 50, 100
    config.data.shuffle_buffer = 1
    crops = [
        x
        for x, _ in ClassifyTask().train_dataset(
            ds, config, SimpleNamespace(window=40), 64, 0
        )
    ]
    steps = np.abs(np.diff(crops[0].numpy()[:, 20, 10:30, 0], axis=1)).mean(axis=1)
    sides = 200 / steps
    assert sides.min() >= 49.5 and sides.max() <= 100.5, sides
    assert sides.min() < 56 and sides.max() > 94, sides
    assert len(np.unique(np.round(sides))) >= 20


def test_scale_jitter_of_one_side_crops_as_without_it():
    # resize_short_max == resize_short draws that side for every image and
    # leaves the crops and flips of the element seeds as they were. Catches
    # a scale draw that consumes the crop's seed (runs without jitter would
    # then train on other crops than before).
    rng = np.random.default_rng(3)
    ds = tf.data.Dataset.from_tensor_slices(
        {"image": rng.integers(0, 256, (6, 40, 50, 3), np.uint8), "label": np.arange(6)}
    )
    plain, jittered = (
        next(
            iter(
                train_dataset(
                    ds,
                    16,
                    24,
                    6,
                    shuffle_buffer=6,
                    deterministic=True,
                    resize_short_max=m,
                )
            )
        )
        for m in (None, 24)
    )
    np.testing.assert_array_equal(plain[0], jittered[0])
    np.testing.assert_array_equal(plain[1], jittered[1])
    with pytest.raises(ValueError, match="resize_short_max must be at least"):
        train_dataset(ds, 16, 24, 6, resize_short_max=20)
