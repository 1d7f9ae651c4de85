"""Your own annotations as TFDS datasets (`overfeat_tf.data.own_data`).

Each test names the bug it catches. The bad-annotation tests were checked
by planting: each check removed in turn, its test failed (the error then
came later, from TFDS or TensorFlow, or not at all).
"""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow_datasets as tfds
from own_files import IMAGES, coco_dict, write_all, write_coco, write_csv, write_images

from overfeat_tf.cli import build_parser, main, resolve_config
from overfeat_tf.data.own_data import (
    TOLERANCE,
    AnnotationError,
    data_kind,
    own_dataset,
    use_own_data,
)


def _examples(own, split="train"):
    """{filename: example} of a built dataset, the image as stored bytes."""
    builder = tfds.builder(own.name, data_dir=own.data_dir)
    ds = builder.as_dataset(split=split, decoders={"image": tfds.decode.SkipDecoding()})
    return {ex["image/filename"].decode(): ex for ex in tfds.as_numpy(ds)}


def test_same_boxes_as_csv_coco_and_voc_give_identical_examples(tmp_path):
    # Bugs caught: COCO's [x, y, width, height] read as corners, VOC's or the
    # CSV's x and y swapped, classes numbered by COCO category id (dog is 1
    # there, cat 2: sorted names make cat 0), a 0,0,0,0 row kept as a box.
    paths = write_all(tmp_path)
    data_dir = str(tmp_path / "tfds")
    owns = {
        kind: own_dataset(path, tmp_path / "images", data_dir)
        for kind, path in paths.items()
    }
    assert {kind: own.kind for kind, own in owns.items()} == {
        "csv": "csv", "coco": "coco", "voc": "voc"
    }  # fmt: skip
    assert len({own.name for own in owns.values()}) == 3  # one dataset each
    examples = {kind: _examples(own) for kind, own in owns.items()}
    for own in owns.values():
        assert own.class_names == ["cat", "dog"] and own.splits == {"train": 4}
        info = tfds.builder(own.name, data_dir=data_dir).info
        assert info.features["objects"]["label"].names == ["cat", "dog"]
    reference = examples["csv"]
    assert sorted(reference) == ["a.png", "b.png", "c.png", "d.png"]
    for kind in ("coco", "voc"):
        assert sorted(examples[kind]) == sorted(reference)
        for name, ex in reference.items():
            other = examples[kind][name]
            assert other["image"] == ex["image"], (kind, name)
            for key in ("bbox", "label", "is_crowd"):
                np.testing.assert_array_equal(
                    other["objects"][key], ex["objects"][key], err_msg=f"{kind} {key}"
                )
    # The boxes themselves, against the numbers written (a.png is 64x48).
    a = reference["a.png"]["objects"]
    np.testing.assert_allclose(
        a["bbox"], [[6 / 48, 4 / 64, 40 / 48, 30 / 64], [10 / 48, 34 / 64, 1, 1]]
    )
    assert a["label"].tolist() == [0, 1] and not a["is_crowd"].any()
    assert reference["c.png"]["objects"]["bbox"].shape == (0, 4)  # a negative


def _bad(tmp_path, text, name="boxes.csv"):
    write_images(tmp_path)
    path = tmp_path / name
    path.write_text(text)
    return str(path)


HEADER = "image_path,xmin,ymin,xmax,ymax,label\n"
BAD_CSV = {
    # a.png is 64 wide: 70 is 6 pixels out.
    "box outside its image": (
        HEADER + "b.png,1,1,5,5,cat\na.png,4,6,70,40,cat\n",
        r"boxes.csv line 3: box \(xmin 4, ymin 6, xmax 70, ymax 40\) is outside "
        r"its 64x48 image a.png by 6 pixels \(up to 2 are clipped\)",
    ),
    "xmax <= xmin": (
        HEADER + "a.png,30,6,4,40,cat\n",
        r"boxes.csv line 2: xmax 4 <= xmin 30 in box",
    ),
    "image missing": (
        HEADER + "a.png,1,1,5,5,cat\nzz.png,1,1,5,5,cat\n",
        r"boxes.csv line 3: image zz.png not found \(looked for .*zz.png\)",
    ),
    "not an image": (
        HEADER + "notes.png,1,1,5,5,cat\n",
        r"boxes.csv line 2: .*notes.png is not an image PIL can read",
    ),
    "label column missing": (
        "image_path,xmin,ymin,xmax,ymax\na.png,1,1,5,5\n",
        r"boxes.csv: no column label \(DeepForest's columns are .*\)\. "
        r"Received columns: image_path,xmin,ymin,xmax,ymax",
    ),
    "empty CSV": ("", r"boxes.csv: empty file \(no header, no rows\)"),
    "header only": (HEADER, r"boxes.csv: empty file \(a header and no rows\)"),
}


@pytest.mark.parametrize("case", list(BAD_CSV))
def test_bad_csv_fails_in_one_line_before_anything_is_built(tmp_path, case):
    # Bugs caught, one per case: the check missing (the box then reaches
    # TFDS' BBoxFeature or training, the missing image TFDS' file reader,
    # the missing label a KeyError), or a message without the file, the line
    # or the fault.
    text, message = BAD_CSV[case]
    (tmp_path / "notes.png").write_text("not a picture")
    path = _bad(tmp_path, text)
    data_dir = tmp_path / "tfds"
    with pytest.raises(AnnotationError, match=message) as error:
        own_dataset(path, data_dir=data_dir)
    assert "\n" not in str(error.value)
    assert not data_dir.exists() or not os.listdir(data_dir)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"image_id": 999},
            r"boxes.json annotation id 100: image_id 999 is not among the 4 images",
        ),
        (
            {"category_id": 7},
            r"boxes.json annotation id 100: category_id 7 is not among the "
            r"categories \[1, 2\]",
        ),
    ],
)
def test_coco_annotation_naming_an_unknown_image_or_category(tmp_path, change, message):
    # Bugs caught: an annotation of an unknown image silently dropped (or a
    # KeyError), an unknown category given some class.
    coco = coco_dict()
    coco["annotations"][0].update(change)
    path = _bad(tmp_path, json.dumps(coco), "boxes.json")
    with pytest.raises(AnnotationError, match=message):
        own_dataset(path, data_dir=tmp_path / "tfds")
    assert not (tmp_path / "tfds").exists()


def test_an_image_found_broken_while_building_leaves_nothing(tmp_path):
    # A PNG cut short: its header reads, its pixels do not. Bug caught: the
    # dataset written half (a later run would find it and train on it), or
    # the failure left to TensorFlow's decoder in the middle of training.
    write_images(tmp_path)
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "a.png").write_bytes(data[: len(data) // 2])
    path = write_csv(tmp_path / "boxes.csv")
    data_dir = tmp_path / "tfds"
    with pytest.raises(
        AnnotationError,
        match=r"boxes.csv line 2: .*a.png is not an image PIL can read \(image f",
    ):
        own_dataset(path, data_dir=data_dir)
    assert os.listdir(data_dir) == []


def test_boxes_out_by_rounding_are_clipped(tmp_path):
    # Up to TOLERANCE (2) pixels out is clipped, further is refused. Bugs
    # caught: a pixel of rounding refused, or kept unclipped (TFDS then
    # refuses a coordinate over 1 deep in the build).
    assert TOLERANCE == 2
    images = (("a.png", (48, 64), ((-1, 6, 65, 50, "cat"),)),)
    write_images(tmp_path, images)
    own = own_dataset(write_csv(tmp_path / "ok.csv", images), data_dir=tmp_path / "t")
    box = _examples(own)["a.png"]["objects"]["bbox"]
    np.testing.assert_allclose(box, [[6 / 48, 0, 1, 1]])
    far = (("a.png", (48, 64), ((4, 6, 66.5, 40, "cat"),)),)
    with pytest.raises(AnnotationError, match="by 2.5 pixels"):
        own_dataset(write_csv(tmp_path / "far.csv", far), data_dir=tmp_path / "t")


def test_a_changed_box_rebuilds_and_an_unchanged_run_does_not(tmp_path):
    # Bugs caught: a dataset keyed by the file's path (a changed box would
    # train on the old boxes), or rebuilt every run.
    paths = write_all(tmp_path)
    data_dir = tmp_path / "tfds"
    first = own_dataset(paths["csv"], tmp_path / "images", data_dir)
    again = own_dataset(paths["csv"], tmp_path / "images", data_dir)
    assert first.built and not again.built and again.name == first.name
    text = (
        (tmp_path / "boxes.csv")
        .read_text()
        .replace("a.png,4,6,30,40", "a.png,4,6,31,40")
    )
    (tmp_path / "boxes.csv").write_text(text)
    changed = own_dataset(paths["csv"], tmp_path / "images", data_dir)
    assert changed.built and changed.name != first.name
    box = _examples(changed)["a.png"]["objects"]["bbox"][0]
    assert box[3] == pytest.approx(31 / 64)
    # An image changed, its boxes not: rebuilt too.
    write_images(tmp_path / "images", seed=1)
    assert own_dataset(paths["csv"], tmp_path / "images", data_dir).built


def test_validation_split_holds_out_whole_images(tmp_path):
    # Twelve images of three boxes each. Bug caught: a split drawn by row or
    # box, which puts boxes of one image in both splits.
    images = tuple(
        (f"i{i:02d}.png", (40, 40), ((1, 1, 9, 9, "a"), (10, 10, 20, 20, "b"),
                                     (21, 21, 39, 39, "a")))
        for i in range(12)
    )  # fmt: skip
    write_images(tmp_path, images)
    path = write_csv(tmp_path / "boxes.csv", images)
    own = own_dataset(path, data_dir=tmp_path / "tfds", val_fraction=0.25)
    assert own.splits == {"train": 9, "validation": 3}
    train, validation = _examples(own), _examples(own, "validation")
    assert len(train) == 9 and len(validation) == 3
    assert not set(train) & set(validation)
    for ex in validation.values():
        assert len(ex["objects"]["label"]) == 3
    # The same draw every time, the images in any order: held out by name,
    # not by position in the file (bug caught: a reordered file, another
    # split). Each image keeps its rows' order, its boxes' order.
    lines = (tmp_path / "boxes.csv").read_text().splitlines(True)
    groups = [lines[i : i + 3] for i in range(1, len(lines), 3)]
    reordered = lines[0] + "".join(row for rows in reversed(groups) for row in rows)
    (tmp_path / "boxes.csv").write_text(reordered)
    again = own_dataset(path, data_dir=tmp_path / "tfds", val_fraction=0.25)
    assert again.name == own.name and not again.built
    # Validation data of its own, sharing an image: refused.
    with pytest.raises(AnnotationError, match=r"i\d\d.png is also in .*boxes.csv"):
        own_dataset(path, data_dir=tmp_path / "tfds", val_data=path)
    with pytest.raises(AnnotationError, match="1 image, too few to hold out"):
        one = write_csv(tmp_path / "one.csv", images[:1])
        own_dataset(one, data_dir=tmp_path / "tfds", val_fraction=0.1)


def test_coco_crowd_regions_are_kept_marked(tmp_path):
    # Bug caught: `iscrowd` dropped on reading, so evaluation counts a crowd
    # region as a missed object and training learns it as one.
    paths = write_all(tmp_path)
    write_coco(paths["coco"], crowd=(101,))  # a.png's dog
    own = own_dataset(paths["coco"], tmp_path / "images", tmp_path / "tfds")
    assert _examples(own)["a.png"]["objects"]["is_crowd"].tolist() == [False, True]


def test_class_folders_and_kinds(tmp_path):
    # Bugs caught: a folder's kind mistaken, class folders numbered in
    # listing order (not sorted), a file that is not an image let through.
    root = tmp_path / "photos"
    for label, count in (("zebra", 2), ("ant", 3)):
        write_images(root / label, IMAGES[:count])
    (root / "ant" / "readme.txt").write_text("skipped: not an image suffix")
    assert data_kind(root) == "classes"
    assert data_kind(write_all(tmp_path / "boxes")["voc"]) == "voc"
    with pytest.raises(AnnotationError, match=r"\.csv .* Received a \.txt file"):
        data_kind(root / "ant" / "readme.txt")
    own = own_dataset(root, data_dir=tmp_path / "tfds")
    assert own.kind == "classes" and own.class_names == ["ant", "zebra"]
    assert own.name.startswith("own_classification/classes_")
    examples = _examples(own)
    assert {n: int(ex["label"]) for n, ex in examples.items()} == {
        "ant/a.png": 0, "ant/b.png": 0, "ant/c.png": 0,
        "zebra/a.png": 1, "zebra/b.png": 1,
    }  # fmt: skip
    with pytest.raises(AnnotationError, match="boxes .* expected here"):
        own_dataset(root, data_dir=tmp_path / "tfds", expect="boxes")
    (root / "zebra" / "c.jpg").write_text("not a picture")
    with pytest.raises(AnnotationError, match=r"class zebra: .*c.jpg is not an image"):
        own_dataset(root, data_dir=tmp_path / "tfds")


def test_the_command_line_points_training_at_the_data(tmp_path):
    # `--data` and its flags set data.* keys, over --set; `use_own_data`
    # then names the dataset and its splits. Bugs caught: a flag parsed and
    # not passed, the validation split not the held-out images.
    paths = write_all(tmp_path)
    argv = [
        "train", "detect", "--preset", "neon_trees", "--set",
        "data.val_fraction=0.9", "--data", paths["csv"], "--images",
        str(tmp_path / "images"), "--val-fraction", "0.25", "--set",
        f"data.data_dir={tmp_path / 'tfds'}",
    ]  # fmt: skip
    config = resolve_config(build_parser().parse_args(argv))
    assert config.data.data_path == paths["csv"] and config.data.val_fraction == 0.25
    own = use_own_data(config, "detect")
    assert config.data.dataset == own.name and own.splits == {
        "train": 3, "validation": 1
    }  # fmt: skip
    assert (config.data.train_split, config.data.eval_split) == ("train", "validation")
    with pytest.raises(AnnotationError, match="a folder of class folders expected"):
        use_own_data(config, "classify")


def test_contact_sheet_of_annotations(tmp_path, capsys):
    # `overfeat contact-sheet --data`: the boxes before training, and a bad
    # file's one line on the command line (exit 2, not a traceback).
    paths = write_all(tmp_path)
    out = tmp_path / "sheet.png"
    argv = [
        "contact-sheet", "--data", paths["voc"], "--images", str(tmp_path / "images"),
        "--data-dir", str(tmp_path / "tfds"), "--out", str(out), "--scale", "1",
    ]  # fmt: skip
    assert main(argv) == 0
    assert out.stat().st_size > 0 and "[all]" in capsys.readouterr().out
    shutil.rmtree(tmp_path / "images")
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("overfeat contact-sheet: error: ") and "\n" not in err
    assert "a.xml: image a.png not found" in err


def test_an_image_listed_twice_is_refused_naming_both(tmp_path):
    # Bug caught: the same image twice (two COCO images of one file, two
    # VOC files of one image) reached TFDS, which failed after encoding
    # every image ("Two examples share the same hashed key"); a duplicate
    # category id silently renamed a class.
    write_images(tmp_path)
    coco = coco_dict()
    coco["images"].append({**coco["images"][0], "id": 99})
    path = _bad(tmp_path, json.dumps(coco), "boxes.json")
    with pytest.raises(
        AnnotationError, match="image id 99: image a.png is also image id 10"
    ):
        own_dataset(path, data_dir=tmp_path / "tfds")
    coco = coco_dict()
    coco["categories"].append({"id": 1, "name": "emu"})
    (tmp_path / "boxes.json").write_text(json.dumps(coco))
    with pytest.raises(
        AnnotationError, match=r"two categories have id 1 \('dog' and 'emu'\)"
    ):
        own_dataset(path, data_dir=tmp_path / "tfds")
    voc = write_all(tmp_path)["voc"]
    shutil.copy(os.path.join(voc, "a.xml"), os.path.join(voc, "z.xml"))
    with pytest.raises(
        AnnotationError, match=r"z.xml: image a.png is also the image of .*a.xml"
    ):
        own_dataset(voc, tmp_path / "images", tmp_path / "tfds")


def test_a_dataset_built_meanwhile_by_another_process_is_kept(tmp_path, monkeypatch):
    # Workers of one training build the same dataset at once. Bug caught:
    # the last to finish replaced the folder the first was reading.
    import overfeat_tf.data.own_data as own_data

    paths = write_all(tmp_path)
    first = own_dataset(paths["csv"], tmp_path / "images", tmp_path / "tfds")
    folder = os.path.join(first.data_dir, first.name)
    (tmp_path / "tfds" / first.name / "marker").write_text("the other worker's")
    calls, real = [], own_data._complete

    def complete(folder):  # the first check (before building) finds nothing
        calls.append(folder)
        return len(calls) > 1 and real(folder)

    monkeypatch.setattr(own_data, "_complete", complete)
    again = own_dataset(paths["csv"], tmp_path / "images", tmp_path / "tfds")
    assert again.name == first.name and not again.built and len(calls) > 1
    assert os.path.isfile(os.path.join(folder, "marker"))
    assert sorted(os.listdir(os.path.dirname(folder))) == [os.path.basename(folder)]


def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path):
    # Bug caught: PIL's convert("RGB") of 16-bit grey clips at 255: a
    # 16-bit PNG stored all white.
    from PIL import Image

    from overfeat_tf.data.own_data import _encoded, _image

    pixels = np.array([[0, 257 * 100], [65535, 1000]], np.uint16)
    Image.fromarray(pixels).save(tmp_path / "deep.png")
    record = _image(str(tmp_path / "deep.png"), "deep.png", "here")
    with Image.open(__import__("io").BytesIO(_encoded(record))) as image:
        stored = np.asarray(image.convert("RGB"))[..., 0]
    assert stored.tolist() == [[0, 100], [255, 4]]


def test_voc_release_layout_classes_and_jpeg_only(tmp_path):
    # Bugs caught: a VOC release (Annotations/, JPEGImages/) read as class
    # folders; a classifier of 2 classes built, failing later in top-5
    # accuracy; a preset's jpeg_only kept for PNGs (training then fails on
    # the first image).
    from overfeat_tf.config import get_config
    from overfeat_tf.data.own_data import read_annotations

    write_images(tmp_path / "voc" / "JPEGImages")
    from own_files import write_voc

    write_voc(tmp_path / "voc" / "Annotations")
    (tmp_path / "voc" / "ImageSets").mkdir()
    kind, records, names = read_annotations(tmp_path / "voc")
    assert kind == "voc" and names == ["cat", "dog"] and len(records) == 4
    config = get_config("accurate")
    assert config.data.jpeg_only
    config.data.data_path = str(tmp_path / "voc")
    config.data.data_dir = str(tmp_path / "tfds")
    config.data.val_fraction = 0.0
    use_own_data(config, "detect")
    assert not config.data.jpeg_only
    for label in ("ant", "bee"):
        write_images(tmp_path / "classes" / label, IMAGES[:1])
    config.data.data_path = str(tmp_path / "classes")
    with pytest.raises(
        AnnotationError, match=r"2 class folders \['ant', 'bee'\]; .* at least 5"
    ):
        use_own_data(config, "classify")


def test_flags_that_would_be_ignored_and_voc_sizes(tmp_path, capsys):
    # Bugs caught: --split silently replaced by all with --data, --images
    # without --data ignored, --val-data and --val-fraction both taken; a
    # VOC <size> left blank (a TypeError), VOC boxes read as float32 (10.3
    # another number, and key, than the CSV's).
    from overfeat_tf.data.own_data import read_annotations

    for argv, message in (
        (["contact-sheet", "--data", "x.csv", "--split", "test"], "--split test"),
        (["contact-sheet", "no_such_set", "--images", "im"], "--images im says"),
        (["evaluate", "--model", "m", "--data", "x.csv", "--split", "a"], "--split"),
        (["train", "detect", "--data", "x.csv", "--val-data", "v.csv",
          "--val-fraction", "0.2"], "--val-data names the validation images"),
    ):  # fmt: skip
        with pytest.raises(SystemExit):
            main([*argv, "--out", "s.png"] if argv[0] == "contact-sheet" else argv)
        assert message in capsys.readouterr().err
    images = (("a.png", (48, 64), ((4, 6.1, 30.3, 40, "cat"),)),)
    write_images(tmp_path, images)
    (tmp_path / "voc").mkdir()
    (tmp_path / "voc" / "a.xml").write_text(
        "<annotation><filename>a.png</filename><size><width></width><height>"
        "</height></size><object><name>cat</name><bndbox><xmin>4</xmin><ymin>6.1"
        "</ymin><xmax>30.3</xmax><ymax>40</ymax></bndbox></object></annotation>"
    )
    voc = read_annotations(tmp_path / "voc", tmp_path)[1][0]
    csv_ = read_annotations(write_csv(tmp_path / "b.csv", images))[1][0]
    assert voc.boxes.tolist() == csv_.boxes.tolist() == [[6.1, 4, 40, 30.3]]
