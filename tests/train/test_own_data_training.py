"""A detector trained from a CSV of one's own, exported, and evaluated on
CSV and COCO JSON annotations (`overfeat_tf.data.own_data`), one of whose
classes only, numbered otherwise than the model does."""

import json
import os

import numpy as np
import pytest
import yaml
from own_files import coco_dict, write_all, write_csv

from overfeat_tf.cli import main
from overfeat_tf.config import get_config
from overfeat_tf.eval import evaluate_model_dir
from overfeat_tf.model_dir import load_model_dir, save_model_dir
from overfeat_tf.models import OverFeat
from overfeat_tf.serving import export_checkpoint
from overfeat_tf.train import train_detector

MEASURES = ("ap", "ap50", "ap75", "precision_iou40", "recall_iou40")
# Four images of one size (the evaluation traces its network once), large
# boxes of two classes, one image without objects.
IMAGES = tuple(
    (f"{name}.png", (48, 64), boxes)
    for name, boxes in (
        ("a", ((4, 6, 40, 44, "cat"), (30, 4, 64, 40, "dog"))),
        ("b", ((10, 2, 60, 46, "dog"),)),
        ("c", ()),
        ("d", ((0, 0, 36, 48, "cat"),)),
    )
)


def _same(result):
    """The measures of an evaluation, without what names its input."""
    skip = {"dataset", "seconds", "model_dir"}
    out = {k: v for k, v in result.items() if k not in skip}
    for method in ("merge", "nms"):
        out[method] = {k: v for k, v in out[method].items() if k != "seconds"}
    return out


def test_train_a_detector_from_a_csv_export_and_evaluate_by_class_name(
    tmp_path, capsys
):
    paths = write_all(tmp_path / "data", IMAGES)
    images, data_dir = str(tmp_path / "data" / "images"), str(tmp_path / "tfds")
    config = get_config("fashion_detect")
    config.model.arch = "tiny_accurate"
    config.data.data_path = paths["csv"]
    config.data.images_dir = images
    config.data.data_dir = data_dir
    config.data.val_fraction = 0.25
    config.data.shuffle_buffer = 8
    config.run.out_dir = str(tmp_path / "run")
    config.run.tensorboard = False
    config.train.global_batch_size = config.train.base_batch_size = 1
    config.train.steps_per_epoch = 1
    config.train.validation_steps = 1
    config.train.epochs = 1
    config.train.verbose = 0
    config.train.lr_decay_epochs = ()
    config.detect.scale_sides = (97,)
    config.export.max_detections = 8
    config.export.flips = False  # a shorter export
    # An untrained detector's cells score about a third per class: a low
    # threshold gives boxes.
    config.export.detect_threshold = 0.2
    classifier = OverFeat("tiny_accurate", num_classes=10)
    config.detect.init_from = save_model_dir(classifier, tmp_path / "classifier")

    result = train_detector(config)
    assert np.isfinite(result["history"]["loss"]).all()
    assert "val_loss" in result["history"]  # the held-out image validated
    out = result["out_dir"]
    # The classes are the CSV's, background last; the run's config names
    # the dataset built and the CSV it came from. Bug caught: the data path
    # ignored (training on data.dataset, fashion_scenes/detection).
    _, names = load_model_dir(os.path.join(out, "model"))
    assert names == ["cat", "dog", "background"]
    with open(os.path.join(out, "config.yaml")) as f:
        saved = yaml.safe_load(f)["data"]
    assert saved["data_path"] == paths["csv"]
    assert saved["dataset"].startswith("own_detection/csv_")
    assert (saved["train_split"], saved["eval_split"]) == ("train", "validation")

    # The run folder exports as any other.
    version = export_checkpoint(out, str(tmp_path / "saved_models" / "trees"))
    assert os.path.isfile(os.path.join(version, "saved_model.pb"))

    # An untrained regressor's boxes have no area (every edge near 0: the
    # window's corner). Each cell's box made its window, the detections
    # overlap the objects and the numbers compared below are not all 0.
    model, names = load_model_dir(os.path.join(out, "model"))
    kernel, bias = model.regressor_layers[-2].get_weights()
    edges = np.array([0.0, 0.0, 1.0, 1.0], bias.dtype)
    model.regressor_layers[-2].set_weights([np.zeros_like(kernel), edges])
    save_model_dir(model, os.path.join(out, "model"), names, overwrite=True)

    # All the boxes, as a CSV: the numbers of an evaluation.
    reference = _same(
        evaluate_model_dir(out, data_dir=data_dir, data_path=paths["csv"],
                           images_dir=images)
    )  # fmt: skip
    assert reference["examples"] == 4 and reference["split"] == "all"
    for key in MEASURES:
        assert 0.0 <= reference[key] <= 1.0
    assert reference["precision_iou40"] > 0 and reference["ap50"] > 0
    assert reference["ap50"] == reference["merge"]["AP50"]  # the export's method

    # Data whose only class is the model's second, dog, as a CSV (which
    # numbers it 0: it must be scored as the model's 1) and as COCO JSON
    # with the cat category unused (numbered as the model: cat 0, dog 1):
    # the same numbers. Bugs caught: classes matched by number, not by
    # name; a reader that differs from another (the readers' examples are
    # compared whole in tests/data/test_own_data.py).
    dogs = tuple(
        (name, size, tuple(b for b in boxes if b[4] == "dog"))
        for name, size, boxes in IMAGES[:2]
    )
    dog = _same(
        evaluate_model_dir(out, data_dir=data_dir, images_dir=images,
                           data_path=write_csv(tmp_path / "dogs.csv", dogs))
    )  # fmt: skip
    assert dog["examples"] == 2
    coco = coco_dict(dogs)
    coco["categories"].append({"id": 9, "name": "cat"})
    with open(tmp_path / "dogs.json", "w") as f:
        json.dump(coco, f)

    # `overfeat evaluate --data COCO --json`: one object with DeepForest's
    # measures beside COCO's.
    argv = [
        "evaluate", "--model", out, "--data", str(tmp_path / "dogs.json"),
        "--images", images, "--data-dir", data_dir, "--json",
    ]  # fmt: skip
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in MEASURES:
        assert printed[key] == dog[key], key
    assert printed["merge"] == dog["merge"] and printed["nms"] == dog["nms"]
    # Neither --dataset nor --data: one line, exit 2.
    with pytest.raises(SystemExit):
        main(["evaluate", "--model", out])
    assert "--dataset or your own --data" in capsys.readouterr().err


def test_fine_tuning_refuses_a_model_of_other_class_names(tmp_path):
    # The detector keeps a model's class columns when the number of classes
    # is the same, by position. Bug caught: a model of [dog, cat] fine-
    # tuned on data of [cat, dog] (or of [ant, bee]) trained each column as
    # the other class, silently.
    from overfeat_tf.data.own_data import use_own_data
    from overfeat_tf.train.tasks import DetectTask

    paths = write_all(tmp_path / "data", IMAGES)
    config = get_config("fashion_detect")
    config.data.data_path = paths["csv"]
    config.data.images_dir = str(tmp_path / "data" / "images")
    config.data.data_dir = str(tmp_path / "tfds")
    config.data.val_fraction = 0.0
    use_own_data(config, "detect")
    model = OverFeat("tiny_accurate", num_classes=2)
    for names, fine in ((["Cat", "DOG"], True), (["dog", "cat"], False)):
        config.detect.init_from = save_model_dir(model, tmp_path / names[0], names)
        task = DetectTask(config)
        if fine:
            task.validate(config)  # the same names, case aside
            continue
        with pytest.raises(ValueError, match=r"trained on the classes \['dog', "
                           r"'cat'\], the data .* has \['cat', 'dog'\]: the same "
                           r"classes in another order"):  # fmt: skip
            task.validate(config)
