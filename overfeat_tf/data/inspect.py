"""Looking at a dataset: examples drawn with their boxes and labels."""

from __future__ import annotations

import tensorflow_datasets as tfds

import overfeat_tf.data  # noqa: F401  (registers the embedded datasets)
from overfeat_tf.viz import contact_sheet, draw_boxes

__all__ = ["dataset_contact_sheet"]


def dataset_contact_sheet(
    name=None,
    split="train",
    count=16,
    columns=4,
    scale=2,
    data_dir=None,
    data_path=None,
    images_dir=None,
):
    """A contact sheet of a TFDS dataset's first examples, or of annotations.

    Works with any dataset with an `image` and either `objects` (`bbox`,
    `label`: voc, neon_trees, fashion_scenes localization / detection) or a
    `label` (imagenet2012, fashion_scenes classification).

    Args:
        name: str or None. The TFDS dataset.
        split, count, columns, scale: which examples, how laid out.
        data_dir: str or None. TFDS data dir.
        data_path: str or None. In place of `name`: annotations of one's own
            (`overfeat_tf.data.own_data.own_dataset`; split `all`), to look
            at the boxes before training.
        images_dir: str or None. Where `data_path`'s image paths start.

    Returns:
        `PIL.Image.Image`.
    """
    if (name is None) == (data_path is None):
        raise ValueError(
            "Name a TFDS dataset or annotations (--data), one of them. "
            f"Received: name={name!r}, data_path={data_path!r}"
        )
    if data_path is not None:
        from overfeat_tf.data.own_data import own_dataset

        own = own_dataset(data_path, images_dir, data_dir)
        name, split, data_dir = own.name, "all", own.data_dir
    builder = tfds.builder(name, data_dir=data_dir)
    builder.download_and_prepare()
    features = builder.info.features
    label_feature = (
        features["objects"]["label"] if "objects" in features else features["label"]
    )
    names = label_feature.names
    pictures, captions = [], []
    for example in tfds.as_numpy(builder.as_dataset(split=split).take(count)):
        if "objects" in example:
            boxes, labels = example["objects"]["bbox"], example["objects"]["label"]
            caption = f"{len(labels)} objects"
        else:
            boxes, labels = (), ()
            caption = names[int(example["label"])]
        pictures.append(draw_boxes(example["image"], boxes, labels, names, scale))
        captions.append(caption)
    return contact_sheet(pictures, columns, captions)
