"""Tiny annotated image folders for the tests of `overfeat_tf.data.own_data`:
the same boxes written as a DeepForest CSV, COCO JSON and Pascal VOC XML."""

import csv
import json
import os
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image

# (file name, (height, width), boxes as (xmin, ymin, xmax, ymax, label)):
# two classes, an image without objects, a box touching the far edges.
IMAGES = (
    ("a.png", (48, 64), ((4, 6, 30, 40, "cat"), (34, 10, 64, 48, "dog"))),
    ("b.png", (64, 48), ((10, 12, 40, 50, "dog"),)),
    ("c.png", (40, 40), ()),
    ("d.png", (56, 56), ((0, 0, 28, 28, "cat"), (20, 20, 56, 50, "cat"))),
)


def write_images(folder, images=IMAGES, seed=0):
    """Random RGB PNGs of the sizes in `images`, in `folder`."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name, (h, w), _ in images:
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(os.path.join(folder, name))


def write_csv(path, images=IMAGES, prefix=""):
    """DeepForest's CSV (an image without boxes as one 0,0,0,0 row), with an
    extra column DeepForest files often have, which must be ignored."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["image_path", "xmin", "ymin", "xmax", "ymax", "label", "score"]
        )
        for name, _, boxes in images:
            for x0, y0, x1, y1, label in boxes or ((0, 0, 0, 0, "cat"),):
                writer.writerow([prefix + name, x0, y0, x1, y1, label, 0.5])
    return str(path)


def coco_dict(images=IMAGES, crowd=()):
    """COCO's JSON of `images`; annotation ids in `crowd` get iscrowd 1.

    Categories are numbered in reverse order of name (dog 1, cat 2), so a
    reader that numbered classes by category id would disagree with the
    CSV's sorted names.
    """
    names = sorted({b[4] for _, _, boxes in images for b in boxes}, reverse=True)
    category = {name: i + 1 for i, name in enumerate(names)}
    out = {"images": [], "annotations": [], "categories": []}
    out["categories"] = [{"id": i, "name": n} for n, i in category.items()]
    for image_id, (name, (h, w), boxes) in enumerate(images, 10):
        out["images"].append(
            {"id": image_id, "file_name": name, "height": h, "width": w}
        )
        for x0, y0, x1, y1, label in boxes:
            annotation_id = len(out["annotations"]) + 100
            out["annotations"].append(
                {
                    "id": annotation_id,
                    "image_id": image_id,
                    "category_id": category[label],
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": (x1 - x0) * (y1 - y0),
                    "iscrowd": int(annotation_id in crowd),
                }
            )
    return out


def write_coco(path, images=IMAGES, crowd=()):
    with open(path, "w") as f:
        json.dump(coco_dict(images, crowd), f)
    return str(path)


def write_voc(folder, images=IMAGES):
    """One Pascal VOC XML file per image, in `folder`."""
    os.makedirs(folder, exist_ok=True)
    for name, (h, w), boxes in images:
        objects = "".join(
            f"<object><name>{escape(label)}</name><bndbox><xmin>{x0}</xmin>"
            f"<ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
            for x0, y0, x1, y1, label in boxes
        )
        xml = (
            f"<annotation><filename>{name}</filename><size><width>{w}</width>"
            f"<height>{h}</height><depth>3</depth></size>{objects}</annotation>"
        )
        stem = os.path.splitext(name)[0]
        with open(os.path.join(folder, f"{stem}.xml"), "w") as f:
            f.write(xml)
    return str(folder)


def write_all(root, images=IMAGES):
    """Images in `root/images`, and the same boxes as `root/boxes.csv`,
    `root/boxes.json` and `root/voc/`: {kind: path}, all with
    `--images root/images`."""
    write_images(os.path.join(root, "images"), images)
    return {
        "csv": write_csv(os.path.join(root, "boxes.csv"), images),
        "coco": write_coco(os.path.join(root, "boxes.json"), images),
        "voc": write_voc(os.path.join(root, "voc"), images),
    }
