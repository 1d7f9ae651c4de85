"""`ilsvrc2012_localization`: ImageNet 2012 images with their boxes (TFDS).

tfds `imagenet2012` has labels but no boxes; the paper's regressor (4.2)
trains on the ILSVRC2012 localization boxes. This builder reads, from
`manual_dir` (nothing is downloaded):

- `ILSVRC2012_img_train.tar` (a tar of one tar per synset, as for
  `imagenet2012`) and `ILSVRC2012_bbox_train_v2.tar.gz` (VOC XML files,
  `<synset>/<synset>_<n>.xml`): the `train` split holds the training images
  that have an XML file (about 544k of 1.28M; the rest have no box);
- `ILSVRC2012_img_val.tar` and `ILSVRC2012_bbox_val_v3.tgz`
  (`val/ILSVRC2012_val_<n>.xml`): the `validation` split, every image.

Features: `image` (JPEG), `label` (the image's synset, in `imagenet2012`'s
class order), `objects` (`bbox` normalised `[ymin, xmin, ymax, xmax]` by the
XML's image size and clipped to [0, 1], `label`), `file_name`.

    tfds.load("ilsvrc2012_localization", split="train",
              download_and_prepare_kwargs={"download_config":
                  tfds.download.DownloadConfig(manual_dir="/data/ilsvrc2012")})

or `--set data.dataset=ilsvrc2012_localization --set data.manual_dir=...`.
"""

from __future__ import annotations

import io
import os
import tarfile

import numpy as np
import tensorflow_datasets as tfds

from overfeat_tf.data.voc import parse_voc

__all__ = ["Ilsvrc2012Localization", "FILES"]

FILES = {
    "train_images": "ILSVRC2012_img_train.tar",
    "train_boxes": "ILSVRC2012_bbox_train_v2.tar.gz",
    "val_images": "ILSVRC2012_img_val.tar",
    "val_boxes": "ILSVRC2012_bbox_val_v3.tgz",
}


def _stem(name: str) -> str:
    return os.path.splitext(os.path.basename(name))[0]


def read_boxes(path) -> dict:
    """{image stem: (normalised boxes `[n, 4]`, synset names)} of a box archive."""
    out = {}
    with tarfile.open(path) as archive:
        for member in archive:
            if not member.isfile() or not member.name.endswith(".xml"):
                continue
            voc = parse_voc(archive.extractfile(member))
            if not voc["names"]:
                continue
            h, w = voc["size"]
            boxes = np.clip(voc["boxes"] / np.array([h, w, h, w], np.float32), 0, 1)
            out[_stem(member.name)] = (boxes, voc["names"])
    return out


class Ilsvrc2012Localization(tfds.core.GeneratorBasedBuilder):
    """ILSVRC2012 images with their bounding boxes (manual download)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Train images with boxes, all validation images."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put the ILSVRC2012 files in manual_dir: "
        + ", ".join(FILES.values())
        + " (from image-net.org, after registering)."
    )

    def _info(self) -> tfds.core.DatasetInfo:
        from tensorflow_datasets.datasets.imagenet2012 import imagenet_common

        label = tfds.features.ClassLabel(names_file=imagenet_common.label_names_file())
        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(encoding_format="jpeg"),
                    "label": label,
                    "objects": tfds.features.Sequence(
                        {"bbox": tfds.features.BBoxFeature(), "label": label}
                    ),
                    "file_name": tfds.features.Text(),
                }
            ),
            supervised_keys=("image", "label"),
            homepage="https://image-net.org/challenges/LSVRC/2012/",
        )

    def _split_generators(self, dl_manager):
        root = dl_manager.manual_dir
        missing = [
            f for f in FILES.values() if not os.path.exists(os.path.join(root, f))
        ]
        if len(missing) == len(FILES):
            raise AssertionError(
                f"No ILSVRC2012 files in {root}. {self.MANUAL_DOWNLOAD_INSTRUCTIONS}"
            )
        splits = {}
        for split, prefix in (("train", "train"), ("validation", "val")):
            images = os.path.join(root, FILES[f"{prefix}_images"])
            boxes = os.path.join(root, FILES[f"{prefix}_boxes"])
            if os.path.exists(images) and os.path.exists(boxes):
                splits[split] = self._generate_examples(
                    images, boxes, prefix == "train"
                )
        return splits

    def _generate_examples(self, images_path, boxes_path, nested):
        from tensorflow_datasets.datasets.imagenet2012 import (
            imagenet2012_dataset_builder as imagenet,
        )

        boxes = read_boxes(boxes_path)
        names = set(self.info.features["label"].names)

        def fix(name, data):  # as tfds imagenet2012: CMYK and PNG files
            if name in imagenet.CMYK_IMAGES:
                return tfds.core.utils.jpeg_cmyk_to_rgb(data)
            if name in imagenet.PNG_IMAGES:
                return tfds.core.utils.png_to_jpeg(data)
            return data

        def examples(archive):
            for member in archive:
                if member.isfile():
                    yield member.name, archive.extractfile(member)

        def images():
            with tarfile.open(images_path) as outer:
                if not nested:
                    yield from examples(outer)
                    return
                for _synset, inner in examples(outer):  # one tar per synset
                    with tarfile.open(fileobj=inner) as archive:
                        yield from examples(archive)

        for name, f in images():
            found = boxes.get(_stem(name))
            if found is None or not set(found[1]) <= names:
                continue
            box, synsets = found
            fname = os.path.basename(name)
            yield (
                fname,
                {
                    "image": io.BytesIO(fix(fname, f.read())),
                    "label": synsets[0],
                    "objects": {"bbox": box, "label": synsets},
                    "file_name": fname,
                },
            )
