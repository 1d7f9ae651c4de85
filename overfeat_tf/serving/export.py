"""SavedModel export in TF Serving's layout.

    saved_models/
      models.config                  for `tensorflow_model_server --model_config_file`,
                                     paths under `export.serving_root` (/models)
      <name>/<version>/saved_model.pb
                       variables/
                       assets/config.yaml, assets/class_names.txt
                       assets.extra/tf_serving_warmup_requests

Each export is a new version (1, 2, ...), written into a temporary folder
beside it and renamed into place, so a server polling `<name>/` never loads
half a model and a failed export leaves nothing behind.
"""

from __future__ import annotations

import copy
import os
import posixpath
import re
import tempfile

import numpy as np
import tensorflow as tf

from overfeat_tf.files import atomic_directory, atomic_file
from overfeat_tf.model_dir import CLASS_NAMES_FILE, write_class_names
from overfeat_tf.serving.module import ServingModule

__all__ = [
    "export_checkpoint",
    "export_saved_model",
    "latest_version",
    "load_exported_network",
    "load_saved_model",
    "saved_model_path",
    "write_models_config",
    "write_warmup",
]


def latest_version(base_dir) -> int:
    """The highest numeric version folder under `base_dir`, 0 if none."""
    if not os.path.isdir(base_dir):
        return 0
    versions = [int(d) for d in os.listdir(base_dir) if re.fullmatch(r"\d+", d)]
    return max(versions, default=0)


def write_warmup(version_dir, name: str, window: int, signatures=()) -> str:
    """Writes `assets.extra/tf_serving_warmup_requests`: one PredictionLog per
    signature of `signatures` (names; the classification ones always), so the
    server traces its graphs before traffic."""
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    ramp = np.linspace(0, 255, window * window * 3).reshape(window, window, 3)
    image = tf.constant(ramp.astype(np.uint8))
    jpeg = tf.io.encode_jpeg(image).numpy()
    requests = [
        (
            "serving_default",
            "image_bytes",
            tf.make_tensor_proto([jpeg], dtype=tf.string),
        ),
        ("classify_images", "images", tf.make_tensor_proto(image.numpy()[None])),
    ]
    for task in ("localize", "detect"):
        if f"{task}_bytes" in signatures:
            requests += [
                (f"{task}_bytes", "image_bytes", requests[0][2]),
                (f"{task}_images", "images", requests[1][2]),
            ]
    folder = os.path.join(version_dir, "assets.extra")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "tf_serving_warmup_requests")
    with tf.io.TFRecordWriter(path) as writer:
        for signature, key, tensor in requests:
            request = predict_pb2.PredictRequest()
            request.model_spec.name = name
            request.model_spec.signature_name = signature
            request.inputs[key].CopyFrom(tensor)
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return path


def write_models_config(root, serving_root: str = "/models") -> str:
    """Writes `<root>/models.config` listing every model folder under `root`.

    Each `base_path` is `<serving_root>/<name>`: where the server sees `root`
    (the TF Serving container's `/models` when `root` is mounted there), not
    where this machine keeps it, so the file travels with the folder.
    """
    root = os.path.abspath(root)
    serving_root = serving_root.rstrip("/") or "/"
    names = sorted(
        d
        for d in os.listdir(root)
        if os.path.isdir(os.path.join(root, d))
        and latest_version(os.path.join(root, d))
    )
    entries = "".join(
        "  config {\n"
        f"    name: '{n}'\n"
        f"    base_path: '{posixpath.join(serving_root, n)}'\n"
        "    model_platform: 'tensorflow'\n"
        "  }\n"
        for n in names
    )
    path = os.path.join(root, "models.config")
    with atomic_file(path) as tmp, open(tmp, "w") as f:
        f.write("model_config_list {\n" + entries + "}\n")
    return path


def export_saved_model(model, base_dir, class_names=None, config=None) -> str:
    """Exports `model` as the next version under `base_dir` (`saved_models/<name>`).

    Args:
        model: `OverFeat`.
        base_dir: str. The model's folder; versions go inside it.
        class_names: list of str or None.
        config: `overfeat_tf.config.Config` or None (defaults). Its `export`
            section fixes the scales, flips, stride and k, and its
            `serving_root` the paths of `models.config`; the whole resolved
            config travels in the SavedModel's assets.

    Returns:
        str: the new version folder.
    """
    from overfeat_tf.config import Config, save_config

    # The config that travels describes this network, whatever the caller's
    # said of `model` (`load_exported_network` builds it again from there).
    config = copy.deepcopy(config or Config())
    config.model.arch, config.model.num_classes = model.spec.name, model.num_classes
    module = ServingModule(model, class_names, config.export)
    base_dir = os.path.abspath(os.fspath(base_dir))
    name = os.path.basename(base_dir)
    version_dir = os.path.join(base_dir, str(latest_version(base_dir) + 1))
    with tempfile.TemporaryDirectory() as sources, atomic_directory(version_dir) as tmp:
        save_config(config, os.path.join(sources, "config.yaml"))
        write_class_names(os.path.join(sources, CLASS_NAMES_FILE), module.class_names)
        module.config_file = tf.saved_model.Asset(os.path.join(sources, "config.yaml"))
        module.class_names_file = tf.saved_model.Asset(
            os.path.join(sources, CLASS_NAMES_FILE)
        )
        signatures = module.signatures()
        tf.saved_model.save(module, tmp, signatures=signatures)
        write_warmup(tmp, name, model.spec.window, list(signatures))
    write_models_config(os.path.dirname(base_dir), config.export.serving_root)
    return version_dir


def saved_model_path(path) -> str:
    """The SavedModel folder of an export: `path` if it is a version folder,
    else its latest version.

    Raises:
        ValueError: if `path` holds no SavedModel.
    """
    path = os.fspath(path)
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        version = latest_version(path)
        if not version:
            raise ValueError(
                f"No SavedModel in {path!r} (nor in a version folder under it)."
            )
        path = os.path.join(path, str(version))
    return path


def load_saved_model(path):
    """Loads an exported model: a version folder, or a model folder (its latest).

    Raises:
        ValueError: if `path` holds no SavedModel.
    """
    return tf.saved_model.load(saved_model_path(path))


def export_checkpoint(checkpoint, out, config_file=None, overrides=()) -> str:
    """Exports a training run or model folder: `overfeat export`.

    Args:
        checkpoint: str. A training run folder (with `model/` and
            `config.yaml`, whose `export:` section is used) or a model folder.
        out: str. `saved_models/<name>`; the new version goes inside.
        config_file: str or None. YAML applied over the run's config.
        overrides: list of `key=value` strings (`export.top_k=3`).

    Returns:
        str: the new version folder.
    """
    from overfeat_tf.config import Config, apply_overrides, load_config
    from overfeat_tf.model_dir import load_model_dir

    folder = os.fspath(checkpoint)
    run_config = os.path.join(folder, "config.yaml")
    config = load_config(run_config) if os.path.isfile(run_config) else Config()
    if config_file:
        config = load_config(config_file, base=config)
    apply_overrides(config, overrides)
    model, names = load_model_dir(folder)
    config.model.arch, config.model.num_classes = model.spec.name, model.num_classes
    return export_saved_model(model, out, names, config)


def load_exported_network(path):
    """The Keras network inside an export, with its class names and config.

    An export made by `export_saved_model` carries its network's variables
    (in `model.variables` order), its resolved config and its class names:
    enough to build the same `OverFeat` again, for re-exporting a committed
    model with newer post-processing, or for evaluating it in Python. Which
    heads it has follows from its signatures (`localize_*`: a regressor;
    `detect_*`: a background class); a detector's scales from its config's
    `detect.scale_sides`, as training gave them.

    Args:
        path: str. A version folder, or a model folder (its latest version).

    Returns:
        (model, class_names, config): `OverFeat` holding the export's weights,
        list of str, `overfeat_tf.config.Config`.

    Raises:
        ValueError: if `path` holds no SavedModel, or one whose variables no
            OverFeat of its config's architecture has.
    """
    import dataclasses

    from overfeat_tf.config import load_config
    from overfeat_tf.models import REGRESSORS, OverFeat
    from overfeat_tf.specs import get_spec

    path = saved_model_path(path)
    config = load_config(os.path.join(path, "assets", "config.yaml"))
    with open(os.path.join(path, "assets", CLASS_NAMES_FILE), encoding="utf-8") as f:
        names = [line.rstrip("\n") for line in f]
    loaded = tf.saved_model.load(path)
    background = "detect_images" in loaded.signatures
    spec = get_spec(config.model.arch)
    if background and config.detect.scale_sides:
        sides = config.detect.scale_sides
        spec = dataclasses.replace(spec, scales=tuple((s, s) for s in sides))
    shapes = [tuple(v.shape) for v in loaded.model_variables]
    regressors = REGRESSORS if "localize_images" in loaded.signatures else (None,)
    for regressor in regressors:
        model = OverFeat(
            spec,
            num_classes=len(names),
            regressor=regressor,
            background=background,
        )
        if [tuple(v.shape) for v in model.variables] == shapes:
            for variable, value in zip(
                model.variables, loaded.model_variables, strict=True
            ):
                variable.assign(value)
            return model, names, config
    raise ValueError(
        f"The SavedModel in {path!r} holds {len(shapes)} variables that no "
        f"{spec.name!r} network with {len(names)} classes has (regressor one of "
        f"{regressors}, background={background})."
    )
