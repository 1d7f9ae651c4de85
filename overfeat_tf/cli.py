"""The `overfeat` command line.

    overfeat demo                                   # the main job, ~10 min
    overfeat demo --full                            # its full recipe, ~100 min
    overfeat describe --arch fast --size 231x231 --json
    overfeat train classify --preset fashion_small --set train.epochs=3
    overfeat train localize --preset fashion_localize
    overfeat train detect --preset fashion_detect
    overfeat train detect --preset neon_trees --data trees.csv --val-fraction 0.1
    overfeat evaluate --model runs/x/localize_single --dataset voc --split validation
    overfeat evaluate --model runs/neon_trees/detect --dataset neon_trees
    overfeat evaluate --model saved_models/neon_trees --data trees.csv --json
    overfeat export --checkpoint runs/fashion_small --out saved_models/fashion
    overfeat predict --model saved_models/fashion photo.jpg
    overfeat import-weights net_weight_1 --arch accurate --out models/accurate
    overfeat features --model models/accurate --layer conv5 photo.jpg --out f.npy
    overfeat contact-sheet fashion_scenes/detection --out sheet.png
    overfeat contact-sheet --data trees.csv --out sheet.png

Each subcommand's flags are defined once, in an `add_<name>_args(parser)`
function; the scripts in `pipelines/` run the same parser through `main`.
Each command's work is one library call.
"""

from __future__ import annotations

import argparse
import json
import sys

from overfeat_tf.extras import MissingExtraError
from overfeat_tf.logs import start_tensorflow

__all__ = [
    "add_contact_sheet_args",
    "add_demo_args",
    "add_describe_args",
    "add_evaluate_args",
    "add_export_args",
    "add_predict_args",
    "add_features_args",
    "add_import_weights_args",
    "add_train_args",
    "build_parser",
    "main",
    "run_contact_sheet",
    "run_demo",
    "run_describe",
    "run_evaluate",
    "run_export",
    "run_predict",
    "run_features",
    "run_import_weights",
    "run_train_classify",
    "run_train_detect",
    "run_train_localize",
]


def _size(text):
    from overfeat_tf.geometry import parse_size

    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _add_set_arg(parser, help_text):
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help=help_text
    )


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a positive whole number. Received: {text!r}"
        )
    return value


def add_describe_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags of `overfeat describe` / `pipelines/describe.py`."""
    from overfeat_tf.specs import SPECS

    parser.add_argument(
        "--arch", default="accurate", choices=sorted(SPECS), help="network preset"
    )
    parser.add_argument(
        "--size",
        action="append",
        type=_size,
        metavar="HxW",
        help="input size, repeatable (default: the window and the spec's six scales)",
    )
    parser.add_argument(
        "--classes", type=_positive_int, default=1000, help="number of classes"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def run_describe(args: argparse.Namespace) -> int:
    """Runs `overfeat describe` with parsed flags; returns the exit code."""
    from overfeat_tf.describe import describe, format_description

    info = describe(args.arch, sizes=args.size, num_classes=args.classes)
    print(json.dumps(info) if args.json else format_description(info))
    return 0


def add_import_weights_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags of `overfeat import-weights` / `pipelines/import_weights.py`."""
    parser.add_argument(
        "path", help="release weight file (net_weight_0 or net_weight_1)"
    )
    parser.add_argument(
        "--arch",
        required=True,
        choices=["fast", "accurate"],
        help="fast for net_weight_0, accurate for net_weight_1",
    )
    parser.add_argument("--out", required=True, help="model folder to create")
    parser.add_argument("--labels", help="class names file, one per line")
    parser.add_argument("--classes", type=_positive_int, default=1000)
    parser.add_argument("--overwrite", action="store_true", help="replace --out")
    return parser


def run_import_weights(args: argparse.Namespace) -> int:
    """Runs `overfeat import-weights`; returns the exit code."""
    from overfeat_tf.model_dir import save_model_dir
    from overfeat_tf.models import OverFeat
    from overfeat_tf.weights import load_class_names, load_release_weights

    names = load_class_names(args.labels, args.classes) if args.labels else None
    model = OverFeat(args.arch, num_classes=args.classes)
    load_release_weights(model, args.path)
    save_model_dir(model, args.out, class_names=names, overwrite=args.overwrite)
    print(
        f"Imported {args.path} ({args.arch}, {model.count_params():,} values) "
        f"into {args.out}"
    )
    return 0


def add_features_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags of `overfeat features` / `pipelines/features.py`."""
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--model", required=True, help="model folder")
    parser.add_argument(
        "--layer", required=True, help="layer name, e.g. conv5 or pool6"
    )
    parser.add_argument("--out", required=True, help="output .npy file")
    parser.add_argument(
        "--size",
        type=_size,
        metavar="HxW",
        help="resize every image to this size first (needed when sizes differ)",
    )
    return parser


def run_features(args: argparse.Namespace) -> int:
    """Runs `overfeat features`; returns the exit code."""
    from overfeat_tf.features import save_features

    shape = save_features(args.model, args.layer, args.images, args.out, args.size)
    print(f"{args.layer} features {shape} -> {args.out}")
    return 0


def add_contact_sheet_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags of `overfeat contact-sheet` / `pipelines/contact_sheet.py`."""
    parser.add_argument(
        "dataset",
        nargs="?",
        help="TFDS name, e.g. fashion_scenes/detection or neon_trees (or --data)",
    )
    _add_data_args(parser)
    parser.add_argument(
        "--split", help="of --dataset (default train; --data: all its images)"
    )
    parser.add_argument(
        "--count", type=_positive_int, default=16, help="examples to show"
    )
    parser.add_argument("--columns", type=_positive_int, default=4)
    parser.add_argument(
        "--scale", type=_positive_int, default=2, help="enlarge each image"
    )
    parser.add_argument("--data-dir", help="TFDS data dir (default: TFDS' own)")
    parser.add_argument("--out", required=True, help="PNG file to write")
    return parser


def run_contact_sheet(args: argparse.Namespace) -> int:
    """Runs `overfeat contact-sheet`; returns the exit code."""
    from overfeat_tf.data.inspect import dataset_contact_sheet

    _check_data_flags(args)
    sheet = dataset_contact_sheet(
        args.dataset, args.split or "train", args.count, args.columns, args.scale,
        args.data_dir, args.data, args.images,
    )  # fmt: skip
    sheet.save(args.out)
    split = "all" if args.data else args.split or "train"
    print(
        f"{args.count} examples of {args.dataset or args.data} [{split}] -> {args.out}"
    )
    return 0


def _check_data_flags(args):
    """Refuses `--split` with `--data` (all its images are read) and
    `--images` without it, rather than ignore them."""
    if args.data and args.split is not None:
        raise ValueError(
            f"--split {args.split} names a split of a TFDS --dataset; --data "
            "reads every image of its annotations. To score a run's held-out "
            "images: --dataset <data.dataset of its config.yaml> --split "
            "validation (docs/own_data.md)."
        )
    if args.images and not args.data:
        raise ValueError(
            f"--images {args.images} says where --data's images are; no --data."
        )


def _add_data_args(parser, validation: bool = False):
    """`--data` and `--images` (and, for training, the validation split's
    flags): annotations of one's own, docs/own_data.md."""
    parser.add_argument(
        "--data",
        metavar="PATH",
        help="your own annotations: a DeepForest .csv, a COCO .json, a folder "
        "of Pascal VOC .xml, or (train classify) a folder of class folders",
    )
    parser.add_argument(
        "--images", metavar="DIR", help="where --data's image paths start "
        "(default: beside the annotations)"
    )  # fmt: skip
    if validation:
        parser.add_argument(
            "--val-data", metavar="PATH", help="annotations of the validation "
            "images (default: --val-fraction of --data's images)"
        )  # fmt: skip
        parser.add_argument(
            "--val-fraction", type=float, metavar="F", help="share of --data's "
            "images held out for validation, whole images (default 0.1; 0: "
            "validate on the training images)"
        )  # fmt: skip


# Flags of `overfeat train` that set config keys (they win over --set).
_DATA_KEYS = (
    ("data", "data.data_path"),
    ("images", "data.images_dir"),
    ("val_data", "data.val_data"),
    ("val_fraction", "data.val_fraction"),
)


def add_train_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags of `overfeat train classify|localize|detect` / `pipelines/train_*.py`."""
    from overfeat_tf.config import PRESETS

    parser.add_argument(
        "--preset", choices=sorted(PRESETS), help="start from a named config"
    )
    parser.add_argument("--config", help="YAML config file (may name a preset: key)")
    _add_set_arg(parser, "override one value, e.g. --set train.epochs=3 (repeatable)")
    _add_data_args(parser, validation=True)
    return parser


def resolve_config(args: argparse.Namespace):
    """The config that `--preset`, `--config`, `--set` and the data flags
    (`--data`: `data.data_path`, ...) describe."""
    from overfeat_tf.config import Config, apply_overrides, get_config, load_config

    if (
        getattr(args, "val_data", None)
        and getattr(args, "val_fraction", None) is not None
    ):
        raise ValueError(
            "--val-data names the validation images, --val-fraction holds "
            "some of --data's out: one of them."
        )
    config = get_config(args.preset) if args.preset else Config()
    if args.config:
        config = load_config(args.config, base=config)
    flags = [
        f"{key}={getattr(args, name)}"
        for name, key in _DATA_KEYS
        if getattr(args, name, None) is not None
    ]
    return apply_overrides(config, [*args.set, *flags])


def _run_train(args, function, describe) -> int:
    config = resolve_config(args)
    result = function(config)
    last = {k: round(v[-1], 4) for k, v in result["history"].items() if v}
    print(f"Trained {describe(config)}: {last}")
    print(f"Model folder: {result['model_dir']}")
    return 0


def run_train_localize(args: argparse.Namespace) -> int:
    """Runs `overfeat train localize`; returns the exit code."""
    from overfeat_tf.train import train_localizer

    return _run_train(
        args, train_localizer, lambda c: f"the {c.localize.regressor} box regressor"
    )


def run_train_detect(args: argparse.Namespace) -> int:
    """Runs `overfeat train detect`; returns the exit code."""
    from overfeat_tf.train import train_detector

    return _run_train(
        args,
        train_detector,
        lambda c: f"the detector on {c.data.data_path or c.data.dataset}",
    )


def run_train_classify(args: argparse.Namespace) -> int:
    """Runs `overfeat train classify`; returns the exit code."""
    from overfeat_tf.train import train_classifier

    return _run_train(
        args,
        train_classifier,
        lambda c: f"{c.model.arch} on {c.data.data_path or c.data.dataset}",
    )


def add_export_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags of `overfeat export` / `pipelines/export.py`."""
    parser.add_argument(
        "--checkpoint",
        required=True,
        help="a training run folder (with model/ and config.yaml) or a model folder",
    )
    parser.add_argument(
        "--out", required=True, help="saved_models/<name>: versions go inside"
    )
    parser.add_argument("--config", help="YAML config (its export: section is used)")
    _add_set_arg(parser, "override, e.g. --set export.top_k=3 (repeatable)")
    return parser


def run_export(args: argparse.Namespace) -> int:
    """Runs `overfeat export`; returns the exit code."""
    from overfeat_tf.serving import export_checkpoint

    path = export_checkpoint(args.checkpoint, args.out, args.config, args.set)
    print(f"Exported {args.checkpoint} to {path}")
    return 0


def add_predict_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags of `overfeat predict` / `pipelines/predict.py`."""
    parser.add_argument(
        "images",
        nargs="+",
        metavar="IMAGE",
        help="image files, folders of images, or globs ('photos/*.jpg')",
    )
    parser.add_argument(
        "--model",
        required=True,
        help="an exported model: saved_models/<name>[/<version>]",
    )
    parser.add_argument(
        "--draw", metavar="DIR", help="write each image with its boxes as a PNG here"
    )
    parser.add_argument(
        "--batch-size", type=_positive_int, default=8, help="images per model call"
    )
    parser.add_argument(
        "--output",
        metavar="FILE.jsonl",
        help="write one JSON line per image here (an unreadable image gets an "
        "`error`) instead of printing the classes",
    )
    return parser


def run_predict(args: argparse.Namespace) -> int:
    """Runs `overfeat predict`: classes (and boxes) through the SavedModel."""
    from overfeat_tf.predict import predict_to

    predict_to(
        args.model, args.images, args.output, args.draw, args.batch_size, sys.stderr
    )
    return 0


def add_batch_predict_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags of `overfeat batch-predict` / `pipelines/batch_predict.py`; any
    other flag is a Beam pipeline option, passed through unchanged."""
    parser.add_argument(
        "--model",
        required=True,
        help="an exported model: saved_models/<name>[/<version>]",
    )
    parser.add_argument(
        "--input",
        required=True,
        metavar="GLOB",
        help="image files, or TFRecord files of a TFDS dataset (*.tfrecord*)",
    )
    parser.add_argument(
        "--output",
        required=True,
        metavar="PREFIX",
        help="JSON lines go to PREFIX-00000-of-0000N.jsonl",
    )
    parser.add_argument(
        "--batch-size", type=_positive_int, default=16, help="images per model call"
    )
    parser.add_argument(
        "--runner",
        default="DirectRunner",
        help="Beam runner (DirectRunner, DataflowRunner, FlinkRunner, ...)",
    )
    parser.epilog = (
        "Any other flag is a Beam pipeline option (--project, --region, "
        "--temp_location, --setup_file, --direct_num_workers, ...), passed to "
        "Beam unchanged."
    )
    parser.set_defaults(beam_options=True)
    return parser


def run_batch_predict(args: argparse.Namespace) -> int:
    """Runs `overfeat batch-predict`: Beam's RunInference over a dataset."""
    from overfeat_tf.batch_predict import batch_predict

    beam_args = [f"--runner={args.runner}", *args.beam_args]
    files = batch_predict(
        args.model, args.input, args.output, beam_args, args.batch_size
    )
    print("\n".join(files))
    return 0


def add_evaluate_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags of `overfeat evaluate` / `pipelines/evaluate.py`."""
    parser.add_argument(
        "--model", required=True, help="a detector's or localizer's model or run "
        "folder, or its export (saved_models/<name>)"
    )  # fmt: skip
    parser.add_argument(
        "--dataset", help="TFDS dataset with objects, e.g. "
        "fashion_scenes/localization (or --data)"
    )  # fmt: skip
    _add_data_args(parser)
    parser.add_argument(
        "--split", help="of --dataset (default test; --data: all its images)"
    )
    parser.add_argument("--data-dir", help="TFDS data dir (default: TFDS' own)")
    parser.add_argument("--limit", type=_positive_int, help="first N examples only")
    parser.add_argument(
        "--task", choices=("detect", "localize"), help="the measure: detection "
        "AP or localization error (a detector has both; default: detect for "
        "a detector, localize for a localizer)"
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    _add_set_arg(
        parser,
        "inference settings over the run's export section, e.g. "
        "--set export.scales=[0,1,2,3]",
    )
    return parser


def run_evaluate(args: argparse.Namespace) -> int:
    """Runs `overfeat evaluate`: detection AP (merge and NMS) of a detector,
    ILSVRC localization error (paper 4.4) of a localizer, or of a detector
    with `--task localize`."""
    from overfeat_tf.eval import evaluate_model_dir
    from overfeat_tf.eval.model_dir import format_evaluation, run_export_config

    if (args.dataset is None) == (args.data is None):
        raise ValueError("name a TFDS --dataset or your own --data, one of them.")
    _check_data_flags(args)
    export = run_export_config(args.model, args.set)
    result = evaluate_model_dir(
        args.model, args.dataset, args.split or "test", args.data_dir, export,
        args.limit, args.task, args.data, args.images,
    )  # fmt: skip
    print(json.dumps(result) if args.json else format_evaluation(result))
    return 0


def add_demo_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags of `overfeat demo` / `pipelines/demo.py`."""
    parser.add_argument(
        "--full",
        action="store_true",
        help="the full recipe that made saved_models/fashion_demo (~100 min on 2 "
        "cores) instead of the 10-minute schedule",
    )
    parser.add_argument(
        "--out",
        help="where the SavedModel goes (default: <run dir>/saved_models; "
        "saved_models with --full)",
    )
    parser.add_argument(
        "--run-dir",
        help="training runs, pictures and metrics.json (default: runs/demo; "
        "runs/fashion_demo with --full)",
    )
    parser.add_argument("--data-dir", help="TFDS data dir (default: TFDS' own)")
    parser.add_argument(
        "--limit",
        type=_positive_int,
        help="evaluate the first N scenes of each test split (default: 50; "
        "all with --full)",
    )
    parser.add_argument(
        "--committed",
        default="saved_models/fashion_demo",
        help="the model evaluated beside the run's (its latest version); "
        "'' leaves it out",
    )
    _add_set_arg(
        parser,
        "override both stages' configs (fashion_small, fashion_detect), e.g. "
        "--set train.epochs=5",
    )
    return parser


def run_demo(args: argparse.Namespace) -> int:
    """Runs `overfeat demo`; returns the exit code."""
    from overfeat_tf.demo import run_demo as demo

    demo(
        args.out,
        args.run_dir,
        args.data_dir,
        args.set,
        args.limit,
        full=args.full,
        committed=args.committed or None,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="overfeat",
        description="OverFeat: integrated classification, localization and detection.",
    )
    # --verbose before or after the command; the subcommands' default must
    # not undo one given before.
    verbose = (
        "show TensorFlow's start-up lines (CUDA probing, CPU notices) and its "
        "INFO and WARNING logs, as TF_CPP_MIN_LOG_LEVEL says (quiet otherwise, "
        "whatever it says)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help=verbose)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=verbose
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands = [
        (
            "demo",
            add_demo_args,
            run_demo,
            "classify, localize and detect on embedded data: train, export, "
            "evaluate (~10 min; --full ~100 min)",
        ),
        (
            "describe",
            add_describe_args,
            run_describe,
            "parameters, strides and map sizes of a network",
        ),
        (
            "import-weights",
            add_import_weights_args,
            run_import_weights,
            "load the original release's weights into a model folder",
        ),
        (
            "features",
            add_features_args,
            run_features,
            "a layer's feature maps for images (paper 3.2)",
        ),
        (
            "export",
            add_export_args,
            run_export,
            "export a trained model as a SavedModel for TF Serving",
        ),
        (
            "predict",
            add_predict_args,
            run_predict,
            "classify images through an exported SavedModel",
        ),
        (
            "batch-predict",
            add_batch_predict_args,
            run_batch_predict,
            "an exported model over a dataset on Apache Beam, to JSON lines",
        ),
        (
            "evaluate",
            add_evaluate_args,
            run_evaluate,
            "detection AP (merge, NMS) or localization error on a TFDS split",
        ),
        (
            "contact-sheet",
            add_contact_sheet_args,
            run_contact_sheet,
            "a PNG of dataset examples with their boxes and labels",
        ),
    ]
    train = sub.add_parser(
        "train",
        help="train a network",
        description="Train a network.",
        parents=[common],
    )
    tasks = train.add_subparsers(dest="task", required=True, metavar="TASK")
    add_train_args(
        tasks.add_parser(
            "classify",
            parents=[common],
            help="the classifier (paper 3.1) with keras fit under tf.distribute",
            description="Train the classifier (paper 3.1).",
        )
    ).set_defaults(run=run_train_classify)
    add_train_args(
        tasks.add_parser(
            "localize",
            parents=[common],
            help="the box regressor (paper 4.2) from a trained classifier",
            description="Train the box regressor (paper 4.2) on the features of "
            "the classifier in localize.init_from (default: run.out_dir).",
        )
    ).set_defaults(run=run_train_localize)
    add_train_args(
        tasks.add_parser(
            "detect",
            parents=[common],
            help="the detector (paper 5) from a trained classifier",
            description="Fine-tune the classifier in detect.init_from (default: "
            "run.out_dir) into a detector with a background class and its box "
            "regressor, negatives mined on the fly.",
        )
    ).set_defaults(run=run_train_detect)
    for name, add_args, run, help_text in commands:
        add_args(
            sub.add_parser(
                name, help=help_text, description=help_text, parents=[common]
            )
        ).set_defaults(run=run)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "beam_options", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.beam_args = unknown
    start_tensorflow(args.verbose)
    try:
        return args.run(args)
    except (ValueError, FileExistsError, FileNotFoundError, MissingExtraError) as e:
        parser.exit(2, f"overfeat {args.command}: error: {e}\n")


if __name__ == "__main__":
    sys.exit(main())
