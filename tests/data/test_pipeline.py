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
