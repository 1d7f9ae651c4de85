"""`tf.data` input pipelines for training and evaluating the classifier.

From any TFDS dataset with `image` and `label` (`imagenet2012`, the embedded
`fashion_scenes`, `tfds.testing.mock_data`), following the paper (3.1):

- training: resize the shorter side to `resize_short` (256), take a random
  window-sized crop (221 accurate, 231 fast) and a random horizontal flip;
  or, as the paper words it, several random crops of each image per epoch
  (`crops_per_image`, "5 random crops") and each crop's mirror beside it
  (`flip_copies`, "and their horizontal flips"): an epoch then holds that
  many examples per image, and the schedule's epochs are as many times
  longer. The presets take one crop and a coin-flip mirror per image per
  epoch (an epoch is a pass over the images, as the schedule counts it);
- evaluation: the same resize, then the centre crop.

Images stay RGB float32 in [0, 255]: the `OverFeat` model applies the
release normalisation, `(x - 118.380948) / 61.896913`, as its first layer
(`normalize`), so training and serving share it. Shapes are fixed
(`[batch, window, window, 3]`, labels int32 `[batch]`).

Randomness is stateless and keyed by (seed, epoch, example index), and the
shuffle order by (seed, epoch): an epoch's batches depend only on its number,
so a resumed run sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import os

import tensorflow as tf
import tensorflow_datasets as tfds

from overfeat_tf.images import decode_image

__all__ = [
    "center_crop",
    "eval_dataset",
    "load_split",
    "localization_dataset",
    "random_crop_flip",
    "random_crops",
    "random_resized_crop_flip",
    "resize_short_side",
    "short_side_draw",
    "train_dataset",
]

AUTOTUNE = tf.data.AUTOTUNE


def load_split(name, split, data_dir=None, manual_dir=None, decode=True):
    """Prepares (offline) and reads one split of a TFDS dataset.

    `imagenet2012` needs `manual_dir`: the folder holding ILSVRC2012's
    `ILSVRC2012_img_train.tar` and `ILSVRC2012_img_val.tar`. With `decode`
    False, the images of a dataset that stores them as JPEG (ImageNet) stay
    the encoded bytes (`tfds.decode.SkipDecoding`), for `train_dataset` to
    decode only what its crops need; other datasets' images (PNG: the
    embedded ones) are decoded as usual, since they must be decoded whole.

    Returns:
        (tf.data.Dataset of feature dicts, number of examples in the split, or
        a negative `tf.data` cardinality constant if unknown).
    """
    builder = tfds.builder(name, data_dir=data_dir)
    config = tfds.download.DownloadConfig(manual_dir=manual_dir)
    builder.download_and_prepare(download_config=config)
    features = builder.info.features
    image = features["image"] if features and "image" in features.keys() else None
    jpeg = getattr(image, "encoding_format", None) == "jpeg"
    decoders = None if decode or not jpeg else {"image": tfds.decode.SkipDecoding()}
    ds = builder.as_dataset(split=split, shuffle_files=False, decoders=decoders)
    try:
        count = builder.info.splits[split].num_examples
    except KeyError:  # no split metadata (e.g. under tfds.testing.mock_data)
        count = int(ds.cardinality())
    return ds, count


def _short_side_size(hw, size):
    """The size `resize_short_side` gives an image of `hw` (int32 `[2]`);
    `size` an int or an int32 scalar tensor."""
    shape = tf.cast(hw, tf.float32)
    scale = tf.cast(size, tf.float32) / tf.reduce_min(shape)
    return tf.maximum(tf.cast(tf.round(shape * scale), tf.int32), size)


def resize_short_side(image, size: int, antialias: bool = True):
    """Resizes so the shorter side is `size`, keeping the aspect ratio.

    Args:
        image: uint8 or float `[h, w, 3]`.
        size: int.
        antialias: bool. Filter with the triangle kernel stretched to the
            shrink factor (`tf.image.resize(..., antialias=True)`), or sample
            bilinearly (`antialias=False`: four pixels per output pixel).

    Returns:
        float32 `[h', w', 3]` in [0, 255], `min(h', w') == size`.
    """
    new = _short_side_size(tf.shape(image)[:2], size)
    image = tf.image.resize(tf.cast(image, tf.float32), new, antialias=antialias)
    return tf.clip_by_value(image, 0.0, 255.0)


def _random_crop(image, window: int, seed):
    """The random crop of `random_crop_flip` at `seed`, not mirrored."""
    crop_seed = tf.random.experimental.stateless_split(seed, 2)[0]
    return tf.image.stateless_random_crop(image, [window, window, 3], crop_seed)


def random_crop_flip(image, window: int, seed):
    """A random `window` x `window` crop, mirrored with probability 1/2.

    Args:
        image: float `[h, w, 3]`, `h, w >= window`.
        window: int.
        seed: int tensor `[2]` (stateless: the same seed, the same crop).
    """
    flip_seed = tf.random.experimental.stateless_split(seed, 2)[1]
    return tf.image.stateless_random_flip_left_right(
        _random_crop(image, window, seed), flip_seed
    )


def _crop_offset(hw, window: int, seed):
    """The top-left corner `_random_crop` takes in an image of `hw` at `seed`.

    Drawn as `tf.image.stateless_random_crop` draws it (one uniform int32
    per axis of `[h, w, 3]`, modulo the room left), so the fused crop below
    takes the crops of the reference path.
    """
    crop_seed = tf.random.experimental.stateless_split(seed, 2)[0]
    room = tf.concat([hw - window + 1, [1]], 0)
    draw = tf.random.stateless_uniform(
        [3], crop_seed, maxval=tf.int32.max, dtype=tf.int32
    )
    return (draw % room)[:2]


def _resized_window(source, origin, hw, new_hw, offset, window: int):
    """Rows and columns `offset + [0, window)` of `hw` resized to `new_hw`.

    `tf.image.resize(..., antialias=True)` is `ScaleAndTranslate` with the
    triangle kernel and no translation; translating by the offset computes
    the window alone, from `source`, the part of the image at `origin` that
    the window's kernels reach (the whole image will do).
    """
    scale = tf.cast(new_hw, tf.float32) / tf.cast(hw, tf.float32)
    translation = tf.cast(origin, tf.float32) * scale - tf.cast(offset, tf.float32)
    out = tf.raw_ops.ScaleAndTranslate(
        images=tf.cast(source, tf.float32)[None],
        size=[window, window],
        scale=scale,
        translation=translation,
        kernel_type="triangle",
        antialias=True,
    )[0]
    return tf.clip_by_value(out, 0.0, 255.0)


def _bilinear_window(source, origin, hw, new_hw, offset, window: int, mirror=False):
    """`_resized_window` without antialiasing: the window of
    `tf.image.resize(image, new_hw)` (`ResizeBilinear`, half-pixel
    centres, edges clamped), sampled from `source` by `crop_and_resize`,
    mirrored left to right where `mirror` (a bool scalar) is true.

    Output pixel `i` of an axis reads the image at `(offset + i + 0.5) *
    hw / new_hw - 0.5`, mixing the four source pixels around that point as
    `ResizeBilinear` does, whatever the shrink factor. When enlarging, the
    first and last points fall up to half a pixel outside the image, where
    `ResizeBilinear` repeats the edge: so does the one-pixel mirror added
    then (`crop_and_resize` would fill zeros). The mirror image is the same
    box with its left and right edges swapped: `crop_and_resize` then
    samples the columns from right to left, at the same points, so the
    flip costs no pass over the window.
    """
    pad = tf.cast(tf.reduce_any(new_hw > hw), tf.int32)
    source = tf.pad(source, [[pad, pad], [pad, pad], [0, 0]], "SYMMETRIC")
    scale = tf.cast(hw, tf.float32) / tf.cast(new_hw, tf.float32)
    first = (tf.cast(offset, tf.float32) + 0.5) * scale - 0.5
    first -= tf.cast(origin - pad, tf.float32)
    last = first + (window - 1) * scale
    span = tf.cast(tf.maximum(tf.shape(source)[:2] - 1, 1), tf.float32)
    box = tf.concat([first / span, last / span], 0)
    box = tf.where(mirror, tf.gather(box, [0, 3, 2, 1]), box)
    return tf.image.crop_and_resize(source[None], box[None], [0], [window, window])[0]


def _source_region(hw, new_hw, offset, window: int):
    """(origin, size) of the part of an `hw` image that a window of it
    resized to `new_hw` reads: the window's span mapped back, widened by the
    triangle kernel's reach (one output pixel, `1 / scale` input pixels when
    shrinking) and a few pixels more, inside the image."""
    scale = tf.cast(new_hw, tf.float32) / tf.cast(hw, tf.float32)
    reach = tf.maximum(1.0 / scale, 1.0) + 3.0
    start = tf.cast(offset, tf.float32) / scale - reach
    stop = tf.cast(offset + window, tf.float32) / scale + reach
    origin = tf.maximum(tf.cast(tf.floor(start), tf.int32), 0)
    end = tf.minimum(tf.cast(tf.math.ceil(stop), tf.int32), hw)
    return origin, end - origin


def _check_window(window: int, resize_short: int) -> None:
    if window > resize_short:
        raise ValueError(
            f"A {window}x{window} crop does not fit in a shorter side of "
            f"{resize_short}. Received: window={window}, "
            f"resize_short={resize_short}."
        )


def random_resized_crop_flip(
    image,
    window: int,
    resize_short: int,
    seed,
    antialias: bool = True,
    jpeg_only: bool = False,
):
    """`random_crop_flip(resize_short_side(image, resize_short, antialias),
    window, seed)`, computing only the window.

    The reference path resizes the whole image, then keeps one window of
    it; this one draws the same window and flip, and resizes into the
    window alone (`ScaleAndTranslate`, the op behind the antialiased
    resize, or `crop_and_resize`'s bilinear sampling). Given encoded bytes, a JPEG
    is decoded only where the window's kernels reach
    (`tf.io.decode_and_crop_jpeg`); other formats are decoded whole. The
    outputs equal the reference's to float rounding (tested).

    Args:
        image: uint8 or float `[h, w, 3]`, or a string scalar holding a
            JPEG, PNG, GIF, BMP or WebP (grey and RGBA become RGB).
        window: int.
        resize_short: int (or int32 scalar tensor). The shorter side the
            window is cut from.
        seed: int tensor `[2]`, as in `random_crop_flip`.
        antialias: bool, as in `resize_short_side`. Bilinear sampling
            (`crop_and_resize`, 1.6 ms a crop on one thread) costs less than
            the antialiasing filter (`ScaleAndTranslate`, 2.2-2.7 ms).
        jpeg_only: bool. Encoded bytes are JPEGs (TFDS' `imagenet2012`
            re-encodes its one PNG and its CMYK JPEGs as RGB JPEGs): skip the
            per-image format check, whose other branch costs 6-16% of the
            training pipeline's throughput (bench/input_pipeline.py). Other
            bytes then fail with an error naming this switch.

    Returns:
        float32 `[window, window, 3]` in [0, 255].

    Raises:
        ValueError: if `window` is larger than `resize_short`.
        InvalidArgumentError: (when run) if `jpeg_only` and `image` is not
            a JPEG.
    """
    if isinstance(resize_short, int):
        _check_window(window, resize_short)
    source, origin, hw, new_hw, offset = _window_source(
        image, window, resize_short, seed, jpeg_only
    )
    flip_seed = tf.random.experimental.stateless_split(seed, 2)[1]
    if not antialias:
        mirror = tf.random.stateless_uniform([], flip_seed) < 0.5
        return _bilinear_window(source, origin, hw, new_hw, offset, window, mirror)
    crop = _resized_window(source, origin, hw, new_hw, offset, window)
    return tf.image.stateless_random_flip_left_right(crop, flip_seed)


def _window_source(image, window: int, resize_short, seed, jpeg_only=False):
    """Where the window of `random_resized_crop_flip` lies, and the pixels
    it reads: (source, its origin in the image, the image's `hw`, `new_hw`
    after the resize, the window's offset in the resized image). A JPEG is
    decoded only where the window's kernels reach, other images whole.

    Unless `jpeg_only`, the format is checked image by image
    (`tf.io.is_jpeg`, a `tf.cond`): a TFDS dataset whose images are
    declared JPEG stores an image file's bytes as it reads them, PNG or
    not. The check costs more than its two ops: with the other branch
    (`decode_image`, its header checks and pixel limit) in the map
    function, the pipeline runs 6-16% slower, whether that branch is
    lowered to dead nodes or called as a function (measured both ways).
    With `jpeg_only` an assertion alone stands guard."""

    def window_in(hw):
        new_hw = _short_side_size(hw, resize_short)
        return new_hw, _crop_offset(new_hw, window, seed)

    def whole(source):
        hw = tf.shape(source)[:2]
        return (source, tf.zeros([2], tf.int32), hw, *window_in(hw))

    if image.dtype != tf.string:
        return whole(image)

    def jpeg(image):
        hw = tf.io.extract_jpeg_shape(image)[:2]
        new_hw, offset = window_in(hw)
        origin, size = _source_region(hw, new_hw, offset, window)
        source = tf.io.decode_and_crop_jpeg(
            image, tf.concat([origin, size], 0), channels=3
        )
        return source, origin, hw, new_hw, offset

    is_jpeg = tf.io.is_jpeg(image)
    if jpeg_only:
        check = tf.debugging.Assert(
            is_jpeg,
            [
                "a training image is not a JPEG, and data.jpeg_only is true "
                "(every image read as a JPEG): set it to false for datasets "
                "that hold other formats"
            ],
        )
        with tf.control_dependencies([check]):
            return jpeg(tf.identity(image))
    return tf.cond(
        is_jpeg,
        lambda: jpeg(image),
        lambda: whole(decode_image(image, what="a training image")),
    )


def short_side_draw(seed, low: int, high: int):
    """The shorter side scale jittering gives the image of `seed` (int tensor
    `[2]`): uniform over `low..high`, drawn from a seed of its own (folded
    from `seed`), so the crop and flip drawn from `seed` stay as they were.

    Returns:
        int32 scalar.
    """
    scale_seed = tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), 1)
    return tf.random.stateless_uniform(
        [], scale_seed, minval=low, maxval=high + 1, dtype=tf.int32
    )


def random_crops(image, window: int, seed, crops: int = 1, flip_copies=False):
    """`crops` random crops of one image, as a batch.

    Crop `j` is `random_crop_flip` at seed `[seed[0], seed[1] * crops + j]`
    (one crop: the element's own seed). With `flip_copies` the crops are not
    mirrored at random; the batch is the crops, then their mirrors.

    Returns:
        `[crops, window, window, 3]`, or `[2 * crops, ...]` with `flip_copies`.
    """
    seed = tf.cast(seed, tf.int64)
    out = []
    for j in range(crops):
        crop_seed = tf.stack([seed[0], seed[1] * crops + j])
        crop = _random_crop if flip_copies else random_crop_flip
        out.append(crop(image, window, crop_seed))
    if flip_copies:
        out += [tf.reverse(crop, [1]) for crop in out]
    return tf.stack(out)


def center_crop(image, window: int):
    """The central `window` x `window` crop of `[h, w, 3]`."""
    shape = tf.shape(image)
    top, left = (shape[0] - window) // 2, (shape[1] - window) // 2
    return image[top : top + window, left : left + window]


def _image_label(example):
    image = example["image"]
    if image.shape.rank == 3 and image.shape[-1] == 1:
        image = tf.image.grayscale_to_rgb(image)
    return image, tf.cast(example["label"], tf.int32)


def train_dataset(
    ds,
    window: int,
    resize_short: int,
    batch_size: int,
    seed: int = 0,
    epoch=0,
    shuffle_buffer: int = 10_000,
    deterministic: bool = False,
    crops_per_image: int = 1,
    flip_copies: bool = False,
    antialias: bool = True,
    resize_short_max: int | None = None,
    jpeg_only: bool = False,
):
    """The training pipeline for one epoch.

    Args:
        ds: `tf.data.Dataset` of TFDS examples (`image`, `label`).
        window: int. Crop size: the network's window.
        resize_short: int. Shorter side before cropping (paper: 256).
        batch_size: int. Batch size of this pipeline (drop remainder).
        seed: int.
        epoch: int or int `tf.Variable`. The epoch number; a variable is read
            each time the dataset is iterated, so one dataset object serves
            every epoch of `fit` (see `overfeat_tf.train.EpochCounter`).
        shuffle_buffer: int.
        deterministic: bool. Keep element order under parallel maps.
        crops_per_image: int. Random crops of each image per epoch, one
            after the other (`random_crops`).
        flip_copies: bool. Each crop and its mirror, instead of a mirror
            with probability 1/2: `2 * crops_per_image` examples per image.
        antialias: bool. Resize with the antialiasing filter (exact
            `tf.image.resize(..., antialias=True)`) or by bilinear sampling
            (1.6x the throughput on ImageNet-sized JPEGs:
            `bench/input_pipeline.py`; see `resize_short_side`).
        resize_short_max: int or None. Scale jittering: each image's shorter
            side is drawn uniformly from `resize_short..resize_short_max`
            (`short_side_draw`) before its crops are cut; None keeps
            `resize_short`.
        jpeg_only: bool. Encoded images are all JPEGs: the one-crop path
            skips its per-image format check (`random_resized_crop_flip`).

    Returns:
        `tf.data.Dataset` of (float32 `[batch, window, window, 3]` in [0, 255],
        int32 `[batch]`).

    `image` may be decoded (uint8 `[h, w, 3]`) or encoded (a string, as
    `load_split(..., decode=False)` reads it): with one crop per image, the
    crop is cut by `random_resized_crop_flip`, which decodes a JPEG only
    where the crop reads it and resizes into the crop alone.
    """
    if crops_per_image < 1:
        raise ValueError(
            f"crops_per_image must be at least 1. Received: {crops_per_image}"
        )
    if resize_short_max is not None and resize_short_max < resize_short:
        raise ValueError(
            f"resize_short_max must be at least resize_short. Received: "
            f"resize_short={resize_short}, resize_short_max={resize_short_max}"
        )
    _check_window(window, resize_short)
    per_image = crops_per_image * (2 if flip_copies else 1)

    def one_epoch(_):
        # The shuffle's seed is a tensor here. Clear this function graph's seed
        # so TensorFlow combines it with a fixed graph seed rather than the
        # global one (whose value 0 it cannot compare with a tensor): the order
        # then depends on (seed, epoch) alone.
        tf.compat.v1.get_default_graph().seed = None
        e = tf.cast(tf.convert_to_tensor(epoch), tf.int64)
        shuffled = ds.shuffle(shuffle_buffer, seed=seed * 100_003 + e)

        def prepare(index, example):
            image, label = _image_label(example)
            element_seed = tf.stack([seed * 100_003 + e, index])
            short = resize_short
            if resize_short_max is not None:
                short = short_side_draw(element_seed, resize_short, resize_short_max)
            if per_image == 1:
                crop = random_resized_crop_flip(
                    image, window, short, element_seed, antialias, jpeg_only
                )
                return crop, label
            if image.dtype == tf.string:
                image = decode_image(image, what="a training image")
            image = resize_short_side(image, short, antialias)
            crops = random_crops(
                image, window, element_seed, crops_per_image, flip_copies
            )
            return crops, tf.fill([per_image], label)

        prepared = shuffled.enumerate().map(
            prepare, num_parallel_calls=_parallel_calls()
        )
        # Several examples per image come as one element: split them.
        if per_image > 1:
            prepared = prepared.unbatch()
        # Batched here, right after the map, so that tf.data fuses the two
        # (each parallel call writes its crop into the batch): batched after
        # the `flat_map`, every crop was copied again by one thread (3-10%
        # of the throughput, bench/input_pipeline.py).
        return prepared.batch(batch_size, drop_remainder=True)

    out = tf.data.Dataset.range(1).flat_map(one_epoch).prefetch(AUTOTUNE)
    return out.with_options(_options(deterministic))


def _options(deterministic: bool):
    """Options of the training and evaluation pipelines: tf.data's
    autotuning off, their maps running one call per schedulable core
    (`_parallel_calls`).

    With autotuning on, about a third of the passes of
    `bench/input_pipeline.py` on two cores ran at half speed with one core
    mostly idle, whether the map was fused with its batch or not and its
    parallelism autotuned or fixed. With it off, every pass kept both cores
    busy.
    """
    options = tf.data.Options()
    options.deterministic = deterministic
    options.autotune.enabled = False
    return options


def _parallel_calls() -> int:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def eval_dataset(ds, window: int, resize_short: int, batch_size: int):
    """The evaluation pipeline: resize, centre crop, batch (in order)."""

    def prepare(example):
        image, label = _image_label(example)
        return center_crop(resize_short_side(image, resize_short), window), label

    out = ds.map(prepare, num_parallel_calls=_parallel_calls())
    out = out.batch(batch_size).prefetch(AUTOTUNE)
    return out.with_options(_options(deterministic=True))


def _boxes_labels(example):
    """Ground-truth boxes (normalised) and labels of a TFDS example with
    `objects`, without COCO's crowd regions (`is_crowd`, where the dataset
    has it): a crowd box outlines many objects, not one to learn."""
    objects = example["objects"]
    boxes = tf.cast(objects["bbox"], tf.float32)
    labels = tf.cast(objects["label"], tf.int32)
    if "is_crowd" in objects:
        keep = tf.logical_not(tf.cast(objects["is_crowd"], tf.bool))
        boxes, labels = tf.boolean_mask(boxes, keep), tf.boolean_mask(labels, keep)
    return boxes, labels


def localization_dataset(
    ds,
    spec,
    batch_size: int,
    scales=None,
    seed: int = 0,
    epoch=0,
    training: bool = True,
    flips: bool = True,
    min_coverage: float = 0.5,
    shuffle_buffer: int = 10_000,
    deterministic: bool = False,
    detection: dict | None = None,
):
    """Whole images at the spec's scales with dense targets (paper 4.2, 5).

    Each batch is drawn at one scale (the spec's scale sizes, the image's
    aspect ratio kept as in `overfeat_tf.ops.multiscale.scale_sizes`): at
    random when `training` (and mirrored with probability 1/2 if `flips`),
    else cycling through the scales in order. Every cell of the fine map gets
    its window's targets (`overfeat_tf.ops.boxes.regression_targets`).

    Args:
        ds: `tf.data.Dataset` of TFDS examples with `image` and `objects`
            (`bbox` normalised `[ymin, xmin, ymax, xmax]`, `label`).
        spec: `NetworkSpec`.
        batch_size: int. Images per batch (drop remainder).
        scales: None (all) or indices into `spec.scales`.
        seed, epoch: randomness is keyed by (seed, epoch, example), as in
            `train_dataset`; `epoch` may be an int `tf.Variable`.
        training: bool. Shuffle, random scales and flips.
        flips: bool. Mirror half of the training images.
        min_coverage: float. A window trains on a box it holds this much of.
        shuffle_buffer: int.
        deterministic: bool. Keep element order under parallel maps.
        detection: None, or the keyword arguments of
            `overfeat_tf.ops.boxes.detection_labels` (`background` and its
            thresholds): adds each cell's detection class as a 7th target.

    Returns:
        `tf.data.Dataset` of (images float32 `[batch, H, W, 3]` in [0, 255],
        targets float32 `[batch, h, w, 6]`: the four window-relative edges, a
        0 / 1 mask of the cells that train the regressor, and the class of
        their box; with `detection`, `[batch, h, w, 7]`, the last the cell's
        class, background, or -1 for ignored). A batch whose images differ in
        size is padded at the bottom and right; cells whose window leaves an
        image are masked (and ignored).
    """
    from overfeat_tf import geometry
    from overfeat_tf.ops.boxes import (
        IGNORED,
        detection_labels,
        regression_targets,
        window_grid,
    )
    from overfeat_tf.ops.multiscale import _scale_sizes_tf

    indices = list(range(len(spec.scales))) if scales is None else list(scales)
    window, stride = spec.window, geometry.fine_stride(spec)

    def one_epoch(_):
        tf.compat.v1.get_default_graph().seed = None  # see train_dataset
        e = tf.cast(tf.convert_to_tensor(epoch), tf.int64)
        key = seed * 100_003 + e
        source = ds.shuffle(shuffle_buffer, seed=key) if training else ds

        def prepare(index, example):
            image, _ = _image_label({"image": example["image"], "label": 0})
            boxes, labels = _boxes_labels(example)
            hw = tf.shape(image)[:2]
            sizes = tf.stack([_scale_sizes_tf(spec, hw, "aspect")[i] for i in indices])
            batch_index = index // batch_size
            if training:
                pick = tf.random.stateless_uniform(
                    [], tf.stack([key, batch_index]), 0, len(indices), tf.int64
                )
            else:
                pick = batch_index % len(indices)
            size = tf.gather(sizes, pick)
            image = tf.image.resize(tf.cast(image, tf.float32), size, antialias=True)
            image = tf.clip_by_value(image, 0.0, 255.0)
            h, w = tf.cast(size[0], tf.float32), tf.cast(size[1], tf.float32)
            boxes = boxes * tf.stack([h, w, h, w])
            if training and flips:
                flip = tf.random.stateless_uniform([], tf.stack([key, index])) < 0.5
                image = tf.where(flip, tf.reverse(image, [1]), image)
                mirrored = tf.stack(
                    [boxes[:, 0], w - boxes[:, 3], boxes[:, 2], w - boxes[:, 1]], 1
                )
                boxes = tf.where(flip, mirrored, boxes)
            return image, boxes, labels, size

        out = source.enumerate().map(prepare, num_parallel_calls=_parallel_calls())
        return out.padded_batch(
            batch_size,
            padded_shapes=([None, None, 3], [None, 4], [None], [2]),
            drop_remainder=True,
        )

    def targets(images, boxes, labels, sizes):
        shape = tf.shape(images)
        rows = (shape[1] - window) // stride + 1
        cols = (shape[2] - window) // stride + 1
        windows = window_grid(rows, cols, stride, window)

        def one(args):
            image_boxes, image_labels, size = args
            t = regression_targets(windows, image_boxes, image_labels, min_coverage)
            inside = (windows[..., 2] <= tf.cast(size[0], tf.float32)) & (
                windows[..., 3] <= tf.cast(size[1], tf.float32)
            )
            mask = t["mask"] * tf.cast(inside, tf.float32)
            channels = [
                t["targets"] * mask[..., None],
                mask[..., None],
                tf.cast(t["labels"], tf.float32)[..., None],
            ]
            if detection is not None:
                cls = detection_labels(windows, image_boxes, image_labels, **detection)
                cls = tf.where(inside, cls, IGNORED)
                channels.append(tf.cast(cls, tf.float32)[..., None])
            return tf.concat(channels, -1)

        depth = 6 if detection is None else 7
        y = tf.map_fn(
            one,
            (boxes, labels, sizes),
            fn_output_signature=tf.TensorSpec([None, None, depth], tf.float32),
        )
        return images, y

    out = tf.data.Dataset.range(1).flat_map(one_epoch)
    out = out.map(targets, num_parallel_calls=_parallel_calls()).prefetch(AUTOTUNE)
    return out.with_options(_options(deterministic))
