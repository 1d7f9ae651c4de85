"""The ILSVRC2012 localization builder on a tiny archive in the official layout."""

import io
import tarfile

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

import overfeat_tf.data  # noqa: F401  (registers the builder)

SYNSETS = ("n01440764", "n01443537")  # imagenet2012 classes 0 and 1


def _jpeg(seed, h, w):
    buf = io.BytesIO()
    pixels = np.random.default_rng(seed).integers(0, 256, (h, w, 3), np.uint8)
    Image.fromarray(pixels).save(buf, format="jpeg")
    return buf.getvalue()


def _xml(h, w, objects):
    items = "".join(
        f"<object><name>{name}</name><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
        f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
        for name, (y0, x0, y1, x1) in objects
    )
    return (
        f"<annotation><size><width>{w}</width><height>{h}</height><depth>3</depth>"
        f"</size>{items}</annotation>"
    ).encode()


def _tar(path_or_buf, files, mode="w"):
    kwargs = (
        {"fileobj": path_or_buf}
        if isinstance(path_or_buf, io.BytesIO)
        else {"name": path_or_buf}
    )
    with tarfile.open(mode=mode, **kwargs) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_builds_train_images_with_boxes_and_all_validation(tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    inner = {}
    for c, synset in enumerate(SYNSETS):
        buf = io.BytesIO()
        _tar(buf, {f"{synset}_{i}.JPEG": _jpeg(10 * c + i, 60, 80) for i in (1, 2)})
        inner[f"{synset}.tar"] = buf.getvalue()
    _tar(str(manual / "ILSVRC2012_img_train.tar"), inner)
    # Three of the four training images have boxes; n01443537_2 has none.
    _tar(
        str(manual / "ILSVRC2012_bbox_train_v2.tar.gz"),
        {
            "n01440764/n01440764_1.xml": _xml(60, 80, [("n01440764", (6, 8, 30, 40))]),
            "n01440764/n01440764_2.xml": _xml(
                60, 80, [("n01440764", (0, 0, 60, 80)), ("n01440764", (10, 20, 70, 90))]
            ),
            "n01443537/n01443537_1.xml": _xml(
                60, 80, [("n01443537", (15, 40, 45, 80))]
            ),
        },
        mode="w:gz",
    )
    _tar(
        str(manual / "ILSVRC2012_img_val.tar"),
        {f"ILSVRC2012_val_0000000{i}.JPEG": _jpeg(100 + i, 50, 50) for i in (1, 2)},
    )
    _tar(
        str(manual / "ILSVRC2012_bbox_val_v3.tgz"),
        {
            "val/ILSVRC2012_val_00000001.xml": _xml(
                50, 50, [("n01443537", (5, 5, 25, 45))]
            ),
            "val/ILSVRC2012_val_00000002.xml": _xml(
                50, 50, [("n01440764", (0, 10, 50, 20))]
            ),
        },
        mode="w:gz",
    )
    builder = tfds.builder("ilsvrc2012_localization", data_dir=str(tmp_path / "tfds"))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(manual))
    )
    assert builder.info.splits["train"].num_examples == 3
    assert builder.info.splits["validation"].num_examples == 2
    train = {
        ex["file_name"].decode(): ex
        for ex in tfds.as_numpy(builder.as_dataset(split="train"))
    }
    assert sorted(train) == ["n01440764_1.JPEG", "n01440764_2.JPEG", "n01443537_1.JPEG"]
    one = train["n01440764_1.JPEG"]
    assert one["label"] == 0 and one["image"].shape == (60, 80, 3)
    np.testing.assert_allclose(
        one["objects"]["bbox"], [[0.1, 0.1, 0.5, 0.5]], atol=1e-6
    )
    two = train["n01440764_2.JPEG"]
    np.testing.assert_allclose(
        two["objects"]["bbox"], [[0, 0, 1, 1], [10 / 60, 0.25, 1, 1]], atol=1e-6
    )  # the second box is clipped to the image
    assert train["n01443537_1.JPEG"]["label"] == 1
    val = {
        ex["file_name"].decode(): ex
        for ex in tfds.as_numpy(builder.as_dataset(split="validation"))
    }
    assert val["ILSVRC2012_val_00000001.JPEG"]["label"] == 1
    np.testing.assert_allclose(
        val["ILSVRC2012_val_00000002.JPEG"]["objects"]["bbox"],
        [[0, 0.2, 1, 0.4]],
        atol=1e-6,
    )
