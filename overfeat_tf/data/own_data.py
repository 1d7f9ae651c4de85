"""Your own annotated images as TFDS datasets: CSV, COCO JSON, VOC, class folders.

`own_dataset(path)` reads annotations in the form the tools our users come
from write them, checks every box and image, and stores them as a TFDS
dataset in the TFDS data dir (`tfds.dataset_builders.AdhocBuilder`), with
the features the pipelines already take, so training, evaluation, export
and serving run unchanged:

- boxes (`own_detection/<kind>_<key>`): `image`, `image/filename`,
  `objects` with `bbox` (normalised `[ymin, xmin, ymax, xmax]`), `label`
  (a `ClassLabel` whose names are the annotations' classes, sorted) and
  `is_crowd` (COCO's crowd regions, left out of training and ignored by
  evaluation; False elsewhere);
- classes (`own_classification/classes_<key>`): `image`,
  `image/filename`, `label`.

What `path` is tells its kind (`data_kind`):

- `*.csv`: DeepForest's `image_path,xmin,ymin,xmax,ymax,label` (pixels,
  extra columns ignored), one row per box; an image whose only row is
  `0,0,0,0` is an image without objects;
- `*.json`: COCO (`images`, `annotations` with `bbox` `[x, y, width,
  height]` pixels, `categories`); an image without annotations is an
  image without objects;
- a folder of `*.xml`: Pascal VOC, one file per image (`filename`,
  `object/name`, `object/bndbox`);
- a folder of folders: one class each, its images inside (any depth).

Image paths are relative to the annotation file's folder (the VOC folder,
the class folder), or to `images_dir` when given. Box coordinates are pixel
edges as written, the same in every format (no VOC "1-based" shift), so the
same boxes written as CSV, COCO and VOC give identical examples.

Checks, before anything is written (each a one-line `AnnotationError` that
names the file, the line, annotation id or object, and what is wrong): a
box with `xmax <= xmin` or `ymax <= ymin`, a box outside its image by more
than `TOLERANCE` pixels (a box out by less, the rounding of a labelling
tool, is clipped to the image), an image that is missing or not an image,
a missing column, a COCO annotation naming an unknown image or category,
an empty file. An image that is only found broken while the dataset is
written (a truncated file) fails the same way, and the half-written
dataset is removed.

A dataset is keyed by its content: the kind, the split of the images, every
image's name, size and bytes (SHA-256), and every box and label as read.
The same content is found again and reused; a changed box, label or image
builds a new one (`OwnDataset.built` says which happened). Hashing reads
every image once per call (about a second per GB).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import math
import os
import shutil
import xml.etree.ElementTree as ET

import numpy as np

from overfeat_tf.data.voc import parse_voc

__all__ = [
    "AnnotationError",
    "CSV_COLUMNS",
    "IMAGE_SUFFIXES",
    "ImageRecord",
    "OwnDataset",
    "TOLERANCE",
    "data_kind",
    "own_dataset",
    "read_annotations",
    "use_own_data",
]

# Pixels a box may stick out of its image (a labelling tool's rounding, a
# box drawn to the last pixel's far edge): clipped. Further out: refused.
TOLERANCE = 2.0
CSV_COLUMNS = ("image_path", "xmin", "ymin", "xmax", "ymax", "label")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
VERSION = "1.0.0"  # of the datasets written here: a new one rebuilds them all
DETECTION, CLASSIFICATION = "own_detection", "own_classification"
# Kept as the file's bytes (TensorFlow decodes them as PIL reads them);
# anything else (TIFF, CMYK JPEG, 16-bit PNG, ...) is stored as an RGB PNG.
_KEPT = {"JPEG": {"RGB", "L"}, "PNG": {"RGB", "RGBA", "L", "LA", "P"}}


class AnnotationError(ValueError):
    """Bad annotations: one line naming the file, the place and the fault."""


@dataclasses.dataclass
class ImageRecord:
    """One image of a dataset, checked.

    Attributes:
        path: str. The image file.
        name: str. `image/filename`: the path relative to the image folder,
            with `/`.
        height, width: int. From the image file's header.
        digest: str. SHA-256 of the file's bytes.
        boxes: float64 `[n, 4]` `[ymin, xmin, ymax, xmax]` pixels, inside
            the image.
        labels: list of n str.
        crowd: bool `[n]`.
        label: str or None. The class of a classification image.
        where: str. Where the image is named (file and line), for errors
            found later.
        jpeg: bool. Stored as its own bytes, a JPEG (`_KEPT`).
    """

    path: str
    name: str
    height: int
    width: int
    digest: str
    boxes: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 4)))
    labels: list = dataclasses.field(default_factory=list)
    crowd: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, bool))
    label: str | None = None
    where: str = ""
    jpeg: bool = False


@dataclasses.dataclass
class OwnDataset:
    """A dataset `own_dataset` built or found.

    Attributes:
        name: str. The TFDS name (`own_detection/csv_0123abcd...`), for
            `tfds.builder(name, data_dir=...)` and every `--dataset`.
        data_dir: str. The TFDS data dir it is in.
        kind: str. `"csv"`, `"coco"`, `"voc"` or `"classes"`.
        splits: dict of split name to number of images: `train` and
            `validation`, or `train` alone when nothing is held out (TFDS'
            split `all` reads every split).
        class_names: list of str.
        built: bool. Built by this call (False: found, unchanged).
        jpeg: bool. Every image is stored as a JPEG (`data.jpeg_only` may
            be set).
    """

    name: str
    data_dir: str
    kind: str
    splits: dict
    class_names: list
    built: bool
    jpeg: bool = False


def data_kind(path) -> str:
    """The kind of annotations at `path`: `"csv"`, `"coco"` (a `.json`),
    `"voc"` (a folder with `.xml` files) or `"classes"` (a folder of
    folders).

    Raises:
        AnnotationError: if `path` does not exist or is none of these.
    """
    path = os.fspath(path)
    if os.path.isfile(path):
        suffix = os.path.splitext(path)[1].lower()
        if suffix in (".csv", ".json"):
            return suffix[1:].replace("json", "coco")
        raise AnnotationError(
            f"{path}: annotations are a .csv (DeepForest), a .json (COCO), a "
            f"folder of .xml (Pascal VOC) or a folder of class folders. "
            f"Received a {suffix or 'suffix-less'} file."
        )
    if not os.path.isdir(path):
        raise AnnotationError(f"{path}: no such file or folder.")
    entries = [e for e in os.listdir(path) if not e.startswith(".")]
    if any(e.lower().endswith(".xml") for e in entries) or _voc_layout(path):
        return "voc"
    if any(os.path.isdir(os.path.join(path, e)) for e in entries):
        return "classes"
    raise AnnotationError(
        f"{path}: a folder of annotations holds .xml files (Pascal VOC) or one "
        f"folder per class; this one holds neither ({len(entries)} entries)."
    )


def _voc_layout(path) -> bool:
    """Whether `path` is laid out as Pascal VOC's own releases are: XML files
    in `Annotations/`, images in `JPEGImages/`."""
    folder = os.path.join(path, "Annotations")
    return os.path.isdir(folder) and any(
        f.lower().endswith(".xml") for f in os.listdir(folder)
    )


def _voc_folders(folder, images_dir):
    """(folder of the XML files, where image paths start) of a VOC folder:
    the folder itself, or VOC's own layout (`Annotations/`, `JPEGImages/`)."""
    if not any(f.lower().endswith(".xml") for f in os.listdir(folder)):
        if _voc_layout(folder):
            images = os.path.join(folder, "JPEGImages")
            return os.path.join(folder, "Annotations"), images_dir or images
    return folder, images_dir or folder


def _shown(path) -> str:
    """A path as the user will recognise it: relative to here if inside."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _image(path, name, where) -> ImageRecord:
    """The checked record of an image file (no boxes yet).

    Raises:
        AnnotationError: if the file is missing or not an image.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with open(path, "rb") as f:
            data = f.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise AnnotationError(
            f"{where}: image {name} not found (looked for {_shown(path)})."
        ) from None
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            jpeg = image.format == "JPEG" and image.mode in _KEPT["JPEG"]
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise AnnotationError(
            f"{where}: {_shown(path)} is not an image PIL can read ({e})."
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    return ImageRecord(path, name, height, width, digest, where=where, jpeg=jpeg)


def _resolve(root, relative, where):
    """(absolute path, name) of an image path written in an annotation."""
    if not relative:
        raise AnnotationError(f"{where}: no image path.")
    path = os.path.normpath(os.path.join(root, relative))
    name = os.path.relpath(path, root).replace(os.sep, "/")
    return path, name


def _number(text, where, key) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise AnnotationError(f"{where}: {key} {text!r} is not a number.") from None
    if not math.isfinite(value):
        raise AnnotationError(f"{where}: {key} is {value}.")
    return value


def _check_box(where, record, xmin, ymin, xmax, ymax):
    """`[ymin, xmin, ymax, xmax]` of a box in `record`'s image, clipped.

    Raises:
        AnnotationError: if the box is empty or outside the image by more
            than `TOLERANCE` pixels.
    """
    box = f"(xmin {xmin:g}, ymin {ymin:g}, xmax {xmax:g}, ymax {ymax:g})"
    if xmax <= xmin:
        raise AnnotationError(f"{where}: xmax {xmax:g} <= xmin {xmin:g} in box {box}.")
    if ymax <= ymin:
        raise AnnotationError(f"{where}: ymax {ymax:g} <= ymin {ymin:g} in box {box}.")
    h, w = record.height, record.width
    out = max(-xmin, -ymin, xmax - w, ymax - h)
    clipped = [max(ymin, 0.0), max(xmin, 0.0), min(ymax, h), min(xmax, w)]
    if out > TOLERANCE:
        raise AnnotationError(
            f"{where}: box {box} is outside its {w}x{h} image {record.name} by "
            f"{out:g} pixels (up to {TOLERANCE:g} are clipped)."
        )
    if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
        raise AnnotationError(
            f"{where}: box {box} lies beyond the edge of its {w}x{h} image "
            f"{record.name}: nothing of it is inside."
        )
    return clipped


def _with_boxes(record, boxes, labels, crowd=None) -> ImageRecord:
    record.boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    record.labels = list(labels)
    record.crowd = np.zeros(len(labels), bool) if crowd is None else np.asarray(crowd)
    return record


def read_csv(path, images_dir=None) -> list[ImageRecord]:
    """The images and boxes of a DeepForest CSV (module docstring).

    Args:
        path: str. The CSV file.
        images_dir: str or None. Where image paths start (default: the
            CSV's folder).

    Returns:
        list of `ImageRecord`, in the order the images first appear.

    Raises:
        AnnotationError: see the module docstring.
    """
    root = images_dir or os.path.dirname(os.path.abspath(path))
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise AnnotationError(f"{path}: empty file (no header, no rows).")
        header = [h.strip() for h in header]
        missing = [c for c in CSV_COLUMNS if c not in header]
        if missing:
            raise AnnotationError(
                f"{path}: no column {', '.join(missing)} (DeepForest's columns are "
                f"{','.join(CSV_COLUMNS)}). Received columns: {','.join(header)}."
            )
        column = {c: header.index(c) for c in CSV_COLUMNS}
        rows = {}  # image path -> [record, boxes, labels, negative line]
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # blank lines, as spreadsheets leave them
            where = f"{path} line {line}"
            if len(row) <= max(column.values()):
                raise AnnotationError(
                    f"{where}: {len(row)} cells, too few for the header's "
                    f"{len(header)} columns."
                )
            cell = {c: row[i].strip() for c, i in column.items()}
            image_path, name = _resolve(root, cell["image_path"], where)
            if image_path not in rows:
                rows[image_path] = [_image(image_path, name, where), [], [], None]
            entry = rows[image_path]
            edges = [_number(cell[k], where, k) for k in CSV_COLUMNS[1:5]]
            if edges == [0.0, 0.0, 0.0, 0.0]:
                entry[3] = entry[3] or line  # DeepForest's image without objects
            else:
                if not cell["label"]:
                    raise AnnotationError(f"{where}: empty label.")
                entry[1].append(_check_box(where, entry[0], *edges))
                entry[2].append(cell["label"])
            if entry[3] is not None and entry[1]:
                raise AnnotationError(
                    f"{where}: image {name} has boxes and a 0,0,0,0 row (line "
                    f"{entry[3]}), which marks an image without objects."
                )
    if not rows:
        raise AnnotationError(f"{path}: empty file (a header and no rows).")
    return [_with_boxes(r, b, labels) for r, b, labels, _ in rows.values()]


def read_coco(path, images_dir=None) -> tuple[list[ImageRecord], list[str]]:
    """The images and boxes of a COCO JSON file (module docstring).

    Returns:
        (list of `ImageRecord` in the file's `images` order, the
        categories' names: every category is a class, annotated or not).

    Raises:
        AnnotationError: see the module docstring.
    """
    root = images_dir or os.path.dirname(os.path.abspath(path))
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise AnnotationError(f"{path}: not JSON ({e}).") from None
    if not isinstance(data, dict):
        raise AnnotationError(f"{path}: COCO JSON is an object; got a list.")
    missing = [k for k in ("images", "annotations", "categories") if k not in data]
    if missing:
        raise AnnotationError(f"{path}: no {', '.join(missing)} (COCO's keys).")
    if not data["images"]:
        raise AnnotationError(f"{path}: empty `images`.")
    categories, names = {}, {}
    for category in data["categories"]:
        cid, name = category.get("id"), str(category.get("name", "")).strip()
        if not name:
            raise AnnotationError(f"{path}: category id {cid} has no name.")
        if cid in categories:
            raise AnnotationError(
                f"{path}: two categories have id {cid} ({categories[cid]!r} and "
                f"{name!r})."
            )
        if name in names:
            raise AnnotationError(
                f"{path}: categories {names[name]} and {cid} are both named {name!r}."
            )
        categories[cid], names[name] = name, cid
    records, boxes, ids = {}, {}, {}
    for image in data["images"]:
        iid = image.get("id")
        where = f"{path} image id {iid}"
        if iid in records:
            raise AnnotationError(
                f"{where}: two images have this id ({records[iid].name} and "
                f"{image.get('file_name')})."
            )
        image_path, name = _resolve(root, image.get("file_name"), where)
        if image_path in ids:
            raise AnnotationError(
                f"{where}: image {name} is also image id {ids[image_path]}: "
                "list an image once, all its boxes under one id."
            )
        ids[image_path] = iid
        record = _image(image_path, name, where)
        stated = (image.get("width"), image.get("height"))
        if None not in stated and stated != (record.width, record.height):
            raise AnnotationError(
                f"{where}: the JSON says {stated[0]}x{stated[1]}, the file "
                f"{_shown(image_path)} is {record.width}x{record.height}."
            )
        records[iid], boxes[iid] = record, ([], [], [])
    for annotation in data["annotations"]:
        where = f"{path} annotation id {annotation.get('id')}"
        iid, cid = annotation.get("image_id"), annotation.get("category_id")
        if iid not in records:
            raise AnnotationError(
                f"{where}: image_id {iid!r} is not among the {len(records)} images."
            )
        if cid not in categories:
            raise AnnotationError(
                f"{where}: category_id {cid!r} is not among the categories "
                f"{sorted(categories, key=str)}."
            )
        bbox = annotation.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise AnnotationError(
                f"{where}: bbox is [x, y, width, height]. Received: {bbox!r}."
            )
        x, y, w, h = (_number(v, where, "bbox") for v in bbox)
        if w <= 0 or h <= 0:
            raise AnnotationError(
                f"{where}: bbox [x, y, width, height] {bbox} has no area."
            )
        found = boxes[iid]
        found[0].append(_check_box(where, records[iid], x, y, x + w, y + h))
        found[1].append(categories[cid])
        found[2].append(bool(annotation.get("iscrowd", 0)))
    out = [_with_boxes(records[i], *boxes[i]) for i in records]
    return out, sorted(names)


_SUFFIX_GUESS = "same name, any image suffix"


def _voc_image(root, xml_path, filename):
    """The image a VOC file names: `<filename>` in `root`; else, as tools
    convert images (a `.tif` labelled, a `.jpg` kept), the one image of the
    same stem (the filename's, then the XML file's)."""
    where = f"{xml_path}"
    if filename:
        path, name = _resolve(root, filename, where)
        if os.path.isfile(path):
            return path, name
    stems = [os.path.splitext(filename)[0]] if filename else []
    stems.append(os.path.splitext(os.path.basename(xml_path))[0])
    for stem in stems:
        found = [
            stem + s
            for s in IMAGE_SUFFIXES
            if os.path.isfile(os.path.join(root, stem + s))
        ]
        if len(found) == 1:
            return _resolve(root, found[0], where)
    raise AnnotationError(
        f"{where}: image {filename or stems[-1]} not found in {_shown(root)} "
        f"(nor another image of the {_SUFFIX_GUESS})."
    )


def read_voc(folder, images_dir=None) -> list[ImageRecord]:
    """The images and boxes of a folder of Pascal VOC XML files.

    Returns:
        list of `ImageRecord`, in file name order.

    Raises:
        AnnotationError: see the module docstring.
    """
    folder, root = _voc_folders(folder, images_dir)
    files = sorted(f for f in os.listdir(folder) if f.lower().endswith(".xml"))
    records, named = [], {}
    for file in files:
        xml_path = os.path.join(folder, file)
        try:
            parsed = parse_voc(xml_path, np.float64)  # as the CSV's, COCO's
        except ET.ParseError as e:
            raise AnnotationError(f"{xml_path}: not XML ({e}).") from None
        except ValueError as e:
            raise AnnotationError(f"{xml_path}: {e}.") from None
        path, name = _voc_image(root, xml_path, parsed["filename"])
        if path in named:
            raise AnnotationError(
                f"{xml_path}: image {name} is also the image of {named[path]}: "
                "one XML file per image."
            )
        named[path] = xml_path
        record = _image(path, name, xml_path)
        if parsed["size"] and 0 not in parsed["size"]:
            if tuple(parsed["size"]) != (record.height, record.width):
                h, w = parsed["size"]
                raise AnnotationError(
                    f"{xml_path}: <size> says {w}x{h}, the image {_shown(path)} "
                    f"is {record.width}x{record.height}."
                )
        boxes = []
        for index, ((y0, x0, y1, x1), label) in enumerate(
            zip(parsed["boxes"].tolist(), parsed["names"], strict=True)
        ):
            where = f"{xml_path} object {index}"
            if not label:
                raise AnnotationError(f"{where}: no <name>.")
            boxes.append(_check_box(where, record, x0, y0, x1, y1))
        records.append(_with_boxes(record, boxes, parsed["names"]))
    return records


def read_class_folders(folder) -> tuple[list[ImageRecord], list[str]]:
    """The images of a folder of class folders (`label` set), and the classes.

    Files without an image suffix are skipped (as Keras'
    `image_dataset_from_directory` does); hidden files and folders too.

    Raises:
        AnnotationError: if a class folder holds no image, or a file with an
            image suffix is not an image.
    """
    classes = sorted(
        d
        for d in os.listdir(folder)
        if not d.startswith(".") and os.path.isdir(os.path.join(folder, d))
    )
    records = []
    for label in classes:
        paths = []
        for parent, dirs, files in os.walk(os.path.join(folder, label)):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            paths += [
                os.path.join(parent, file)
                for file in files
                if not file.startswith(".") and file.lower().endswith(IMAGE_SUFFIXES)
            ]
        if not paths:
            raise AnnotationError(
                f"{folder}: class folder {label} holds no image "
                f"({', '.join(IMAGE_SUFFIXES)})."
            )
        for path in sorted(paths):
            name = os.path.relpath(path, folder).replace(os.sep, "/")
            record = _image(path, name, f"{folder} class {label}")
            record.label = label
            records.append(record)
    return records, classes


def read_annotations(path, images_dir=None) -> tuple[str, list, list[str]]:
    """Reads and checks annotations of any kind (`data_kind`).

    Returns:
        (kind, list of `ImageRecord`, class names sorted).

    Raises:
        AnnotationError: see the module docstring.
    """
    path = os.fspath(path)
    kind = data_kind(path)
    if kind == "classes":
        return (kind, *read_class_folders(path))
    if kind == "coco":
        records, names = read_coco(path, images_dir)
    else:
        reader = read_csv if kind == "csv" else read_voc
        records = reader(path, images_dir)
        names = sorted({label for r in records for label in r.labels})
    if not names:
        raise AnnotationError(
            f"{path}: no boxes: every one of its {len(records)} images is an "
            "image without objects."
        )
    return kind, records, names


def _rank(record) -> str:
    """The order in which images are held out: a hash of the name, so adding
    an image moves at most one other image between the splits."""
    return hashlib.sha256(record.name.encode()).hexdigest()


def _hold_out(records, fraction: float, path):
    """(train, validation) records: `round(fraction * n)` images (at least
    one, never all) held out, whole."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1). Received: {fraction}")
    if len(records) < 2:
        raise AnnotationError(
            f"{path}: {len(records)} image, too few to hold out a validation "
            "fraction: give validation data (--val-data) or --val-fraction 0."
        )
    count = min(len(records) - 1, max(1, round(fraction * len(records))))
    held = {r.name for r in sorted(records, key=_rank)[:count]}
    return (
        [r for r in records if r.name not in held],
        [r for r in records if r.name in held],
    )


def _features(class_names, classification: bool):
    import tensorflow_datasets as tfds

    features = {
        "image": tfds.features.Image(shape=(None, None, 3), encoding_format=None),
        "image/filename": tfds.features.Text(),
    }
    label = tfds.features.ClassLabel(names=class_names)
    if classification:
        features["label"] = label
    else:
        features["objects"] = tfds.features.Sequence(
            {
                "bbox": tfds.features.BBoxFeature(),
                "label": label,
                "is_crowd": np.bool_,
            }
        )
    return tfds.features.FeaturesDict(features)


def _key(kind, splits, class_names) -> str:
    """SHA-256 of everything that goes into the dataset (module docstring)."""
    content = {
        "version": VERSION,
        "kind": kind,
        "classes": class_names,
        "splits": {
            split: [
                [r.name, r.digest, r.height, r.width, r.boxes.tolist(), r.labels,
                 r.crowd.tolist(), r.label]
                for r in records
            ]
            for split, records in splits.items()
        },
    }  # fmt: skip
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _encoded(record) -> bytes:
    """The bytes stored for an image, decoded whole once to find a broken file
    before training does."""
    from PIL import Image

    with open(record.path, "rb") as f:
        data = f.read()
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            deep = image.format == "PNG" and data[24:25] == b"\x10"  # 16 bits
            if image.mode in _KEPT.get(image.format, ()) and not deep:
                return data
            out = io.BytesIO()
            _eight_bits(image, record).convert("RGB").save(out, format="PNG")
            return out.getvalue()
    except (OSError, Image.DecompressionBombError) as e:
        raise AnnotationError(
            f"{record.where}: {_shown(record.path)} is not an image PIL can read ({e})."
        ) from None


def _eight_bits(image, record):
    """`image`, 16-bit grey (PIL's modes `I;16*`, and `I` within 0..65535)
    scaled to 8 bits (65535 -> 255: PIL's own conversion clips at 255, an
    all-white image); other modes as they are.

    Raises:
        AnnotationError: for 32-bit integer or float pixels (no range to
            scale from).
    """
    from PIL import Image

    if not (image.mode.startswith("I") or image.mode == "F"):
        return image
    pixels = np.asarray(image)
    if image.mode == "F" or pixels.min() < 0 or pixels.max() > 65535:
        raise AnnotationError(
            f"{record.where}: {_shown(record.path)} has {image.mode} pixels "
            f"(range {pixels.min():g}..{pixels.max():g}), not 8- or 16-bit: "
            "convert it to an 8-bit image."
        )
    scaled = np.round(pixels.astype(np.float64) / 257.0).astype(np.uint8)
    return Image.fromarray(scaled, "L")


def _examples(records, class_names):
    """(key, example) pairs of TFDS examples, the key the image's name."""
    index = {name: i for i, name in enumerate(class_names)}
    for record in records:
        example = {"image": _encoded(record), "image/filename": record.name}
        if record.label is not None:
            example["label"] = index[record.label]
        else:
            h, w = record.height, record.width
            example["objects"] = {
                "bbox": (record.boxes / [h, w, h, w]).astype(np.float32),
                "label": np.array([index[x] for x in record.labels], np.int64),
                "is_crowd": record.crowd.astype(bool),
            }
        yield record.name, example


def _default_data_dir() -> str:
    import tensorflow_datasets as tfds

    return os.path.expanduser(tfds.core.constants.DATA_DIR)


def own_dataset(
    data_path,
    images_dir=None,
    data_dir=None,
    val_data=None,
    val_fraction: float = 0.0,
    expect: str | None = None,
    min_classes: int = 0,
) -> OwnDataset:
    """The TFDS dataset of annotated images: built once, then found.

    Args:
        data_path: str. Annotations (`data_kind`).
        images_dir: str or None. Where image paths start (default: beside
            the annotations).
        data_dir: str or None. TFDS data dir (default: TFDS' own).
        val_data: str or None. Annotations of the `validation` split (any
            box kind with box annotations, class folders with class
            folders); image paths start from `images_dir` too, if given.
        val_fraction: float in [0, 1). Without `val_data`: the share of the
            images held out as `validation`, whole images, chosen by a hash
            of their names. 0: one split, `train`.
        expect: None, `"boxes"` or `"classes"`: refuse the other kind.
        min_classes: int. Refuse fewer classes (before anything is built).

    Returns:
        `OwnDataset`.

    Raises:
        AnnotationError: bad annotations (module docstring), or the same
            image in both splits.
    """
    kind, records, names = read_annotations(data_path, images_dir)
    boxes = kind != "classes"
    if expect is not None and expect != ("boxes" if boxes else "classes"):
        wanted = "boxes (CSV, COCO JSON, VOC folder)" if expect == "boxes" else (
            "a folder of class folders"
        )  # fmt: skip
        raise AnnotationError(
            f"{data_path}: {wanted} expected here. Received: "
            f"{'class folders' if not boxes else kind.upper() + ' boxes'}."
        )
    if val_data:
        val_kind, val_records, val_names = read_annotations(val_data, images_dir)
        if (val_kind == "classes") != (kind == "classes"):
            raise AnnotationError(
                f"{val_data}: validation data of another kind ({val_kind}) than "
                f"{data_path} ({kind})."
            )
        paths = {r.path: r for r in records}
        for r in val_records:
            if r.path in paths:
                raise AnnotationError(
                    f"{val_data}: image {_shown(r.path)} is also in {data_path}: "
                    "an image is in one split only."
                )
        names = sorted(set(names) | set(val_names))
        splits = {"train": records, "validation": val_records}
    elif val_fraction:
        train, validation = _hold_out(records, float(val_fraction), data_path)
        splits = {"train": train, "validation": validation}
    else:
        splits = {"train": records}
    if len(names) < min_classes:
        found = f"class folders {names}" if not boxes else f"classes {names}"
        raise AnnotationError(
            f"{data_path}: {len(names)} {found}; training a classifier takes at "
            f"least {min_classes} (its top-5 accuracy): add class folders."
        )
    # In name order: the order of the rows or files is no part of the content.
    splits = {s: sorted(r, key=lambda r: r.name) for s, r in splits.items()}
    data_dir = os.path.abspath(data_dir or _default_data_dir())
    base = CLASSIFICATION if kind == "classes" else DETECTION
    config = f"{kind}_{_key(kind, splits, names)[:20]}"
    folder = os.path.join(data_dir, base, config)
    built = not _complete(folder)
    if built:
        built = _build(folder, base, config, splits, names, kind, data_path)
    return OwnDataset(
        f"{base}/{config}",
        data_dir,
        kind,
        {s: len(r) for s, r in splits.items()},
        names,
        built,
        all(r.jpeg for s in splits.values() for r in s),
    )


def _complete(folder) -> bool:
    """Whether `folder` (`<data_dir>/<base>/<config>`) holds a whole dataset."""
    return os.path.isfile(os.path.join(folder, VERSION, "dataset_info.json"))


def _build(folder, base, config, splits, names, kind, data_path) -> bool:
    """Writes the dataset into `folder` (`<data_dir>/<base>/<config>`) whole
    or not at all: TFDS builds it in a temporary folder beside it, which
    becomes `folder` in one rename. Never replaces a dataset: when another
    process (a worker of the same training) has put one there meanwhile,
    that one, the same content, is kept and this build dropped.

    Returns:
        bool: this build was kept (False: another process's was).
    """
    import tempfile

    import tensorflow_datasets as tfds

    parent = os.path.dirname(folder)
    existed = os.path.isdir(parent)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{config}.partial-", dir=parent)
    try:
        scratch = os.path.join(tmp, "build")
        builder = tfds.dataset_builders.AdhocBuilder(
            name=base,
            config=config,
            version=VERSION,
            features=_features(names, kind == "classes"),
            split_datasets={
                s: _examples(records, names) for s, records in splits.items()
            },
            data_dir=scratch,
            description=(
                f"Built by overfeat_tf from {data_path} ({kind}): "
                + ", ".join(f"{s} {len(r)} images" for s, r in splits.items())
                + "."
            ),
        )
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(try_download_gcs=False)
        )
        os.rename(
            os.path.join(scratch, base, config, VERSION), os.path.join(tmp, VERSION)
        )
        shutil.rmtree(scratch)
        # The whole folder in one rename, or (a folder of another version
        # there) the version folder; a rename onto a folder that is not
        # empty fails, so a dataset found there is never replaced.
        moves = (
            (tmp, folder),
            (os.path.join(tmp, VERSION), os.path.join(folder, VERSION)),
        )
        for source, target in moves:
            try:
                os.rename(source, target)
                return True
            except OSError:
                if _complete(folder):
                    return False  # built meanwhile by another process: used
        raise FileExistsError(
            f"{folder} exists and holds no complete dataset {VERSION}: remove it."
        )
    except BaseException:
        if not existed and os.path.isdir(parent):
            with contextlib.suppress(OSError):  # nothing of a failed build stays
                shutil.rmtree(tmp, ignore_errors=True)
                os.rmdir(parent)
        raise
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def use_own_data(config, task: str) -> OwnDataset | None:
    """Points a training config at the dataset of `config.data.data_path`.

    With `data.data_path` set, builds (or finds) its dataset (`own_dataset`,
    with `data.images_dir`, `data.val_data`, `data.val_fraction`) and sets
    `data.dataset` to it, `data.train_split` / `data.eval_split` to its
    `train` / `validation` (both `train` when nothing is held out), and for
    `classify`, `model.num_classes` to its classes (at least 5, for the
    top-5 accuracy). `data.jpeg_only` stays set only if every image is a
    JPEG. Nothing to do without.

    Args:
        config: `overfeat_tf.config.Config`, changed in place.
        task: str. `"classify"`, `"localize"` or `"detect"`.

    Returns:
        `OwnDataset`, or None without `data.data_path`.
    """
    data = config.data
    if not data.data_path:
        for key in ("val_data", "images_dir"):
            if getattr(data, key):
                raise ValueError(
                    f"data.{key} ({getattr(data, key)}) needs data.data_path (--data)."
                )
        return None
    own = own_dataset(
        data.data_path,
        data.images_dir,
        data.data_dir,
        data.val_data,
        data.val_fraction,
        expect="classes" if task == "classify" else "boxes",
        min_classes=5 if task == "classify" else 0,
    )
    data.dataset = own.name
    data.train_split = "train"
    data.eval_split = "validation" if "validation" in own.splits else "train"
    # A preset's jpeg_only (accurate, fast: ImageNet's JPEGs) holds for
    # these images only if every one is stored as a JPEG.
    data.jpeg_only = data.jpeg_only and own.jpeg
    if task == "classify":
        config.model.num_classes = len(own.class_names)
    return own
