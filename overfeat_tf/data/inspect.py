"""Looking at a dataset: examples drawn with their boxes and labels."""

from __future__ import annotations

import tensorflow_datasets as tfds

import overfeat_tf.data  # noqa: F401  (registers the embedded datasets)
from overfeat_tf.viz import contact_sheet, draw_boxes

__all__ = ["dataset_contact_sheet"]


def dataset_contact_sheet(
    name, split="train", count=16, columns=4, scale=2, data_dir=None
):
    """A contact sheet of a TFDS dataset's first examples.

    Works with any dataset with an `image` and either `objects` (`bbox`,
    `label`: voc, neon_trees, fashion_scenes localization / detection) or a
    `label` (imagenet2012, fashion_scenes classification).

    Returns:
        `PIL.Image.Image`.
    """
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
