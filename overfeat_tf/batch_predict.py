"""`overfeat batch-predict`: an exported model over a dataset, on Apache Beam.

Reads the image files a glob matches (JPEG, PNG, GIF, BMP, WebP), or the
TFRecord files of a TFDS dataset (`*.tfrecord*`, their examples' `image`
feature), runs them through the SavedModel's bytes signatures in batches
with Beam's `RunInference` (its TensorFlow model handler, loading the export
with `tf.saved_model.load`), and writes JSON lines, one per image: `file`,
then the fields of `overfeat_tf.predict.predict_bytes` (`classes`, `scores`,
`class_names`, and for a detector or a localizing model `detection_boxes`,
`detection_scores`, `detection_classes`, `detection_class_names`). An image
that cannot be read or decoded gets a line with `file` and `error` instead.

The pipeline runs where Beam's options say: the `DirectRunner` here by
default, or Dataflow, Flink, Spark, ... with their own flags passed through
unchanged (`--runner`, `--project`, `--temp_location`, ...). The workers
need this package installed (`--setup_file ./setup.py` on Dataflow).
"""

from __future__ import annotations

import os

import tensorflow as tf

from overfeat_tf.extras import missing_extra

try:
    import apache_beam as beam
    import tensorflow_hub  # noqa: F401  (Beam's TensorFlow handler imports it)
    from apache_beam.io import fileio
    from apache_beam.ml.inference.base import (
        KeyedModelHandler,
        PredictionResult,
        RunInference,
    )
    from apache_beam.ml.inference.tensorflow_inference import TFModelHandlerTensor
    from apache_beam.options.pipeline_options import PipelineOptions
except ImportError as e:
    raise missing_extra("beam", "overfeat batch-predict", e) from e

from overfeat_tf.predict import predict_each, to_json

__all__ = ["SavedModelBytesHandler", "batch_predict", "build_pipeline"]

# TFDS example features that name an example's image, in order of preference.
NAME_FEATURES = ("file_name", "image/filename", "image/file_name")


def _predict_batch(model, batch, inference_args, model_id=None):
    """`RunInference`'s call: the batch through `predict_each`."""
    del inference_args
    results = predict_each(model.signatures, batch)
    return [
        PredictionResult(data, found, model_id)
        for data, found in zip(batch, results, strict=True)
    ]


class SavedModelBytesHandler(TFModelHandlerTensor):
    """Beam's TensorFlow model handler for an export of this project.

    The export is loaded with `tf.saved_model.load` (the handler's own
    loader is Keras', which reads no SavedModel under Keras 3); batches of
    encoded images (bytes) go through its bytes signatures.

    Args:
        model: str. An exported model folder (its latest version) or a
            version folder.
        max_batch_size: int. Images per signature call.
    """

    def __init__(self, model: str, max_batch_size: int = 16):
        super().__init__(
            os.fspath(model),
            inference_fn=_predict_batch,
            min_batch_size=1,
            max_batch_size=max_batch_size,
        )
        self._export = os.fspath(model)

    def load_model(self):
        from overfeat_tf.serving import load_saved_model

        return load_saved_model(self._export)

    def get_num_bytes(self, batch) -> int:
        return sum(len(data) for data in batch)

    def get_metrics_namespace(self) -> str:
        return "overfeat_batch_predict"


def _read_file(readable):
    """(path, bytes) of a matched file, or (path, error text)."""
    path = readable.metadata.path
    try:
        return path, readable.read()
    except OSError as e:
        return path, OSError(f"cannot read the file: {e.strerror or e}")


def _tfds_example(named_record):
    """(name, image bytes) of a serialized TFDS example in a TFRecord file."""
    path, record = named_record
    features = tf.train.Example.FromString(record).features.feature
    if "image" not in features:
        return path, ValueError("the example has no `image` feature")
    for key in NAME_FEATURES:
        if key in features and features[key].bytes_list.value:
            name = features[key].bytes_list.value[0].decode()
            return f"{path}:{name}", features["image"].bytes_list.value[0]
    return path, features["image"].bytes_list.value[0]


def _line(keyed):
    name, found = keyed
    if isinstance(found, Exception):
        return to_json({"file": name, "error": str(found)})
    if isinstance(found, PredictionResult):
        found = found.inference
    return to_json({"file": name, **found})


def build_pipeline(
    pipeline, model: str, input_pattern: str, output_prefix: str, batch_size: int
):
    """Adds batch prediction to a `beam.Pipeline`: `input_pattern` in,
    `output_prefix-*.jsonl` out (see the module's docstring)."""
    if ".tfrecord" in os.path.basename(input_pattern):
        named = (
            pipeline
            | "Files" >> beam.Create([input_pattern])
            | "Read" >> beam.io.ReadAllFromTFRecord(with_filename=True)
            | "Examples" >> beam.Map(_tfds_example)
        )
    else:
        named = (
            pipeline
            | "Files" >> beam.Create([input_pattern])
            | "Match" >> fileio.MatchAll()
            | "Open" >> fileio.ReadMatches()
            | "Read" >> beam.Map(_read_file)
        )
    readable = named | "Split" >> beam.Partition(
        lambda keyed, _: int(isinstance(keyed[1], Exception)), 2
    )
    predicted = readable[0] | "Predict" >> RunInference(
        KeyedModelHandler(SavedModelBytesHandler(model, batch_size))
    )
    return (
        (predicted, readable[1])
        | "Merge" >> beam.Flatten()
        | "Lines" >> beam.Map(_line)
        | "Write" >> beam.io.WriteToText(output_prefix, file_name_suffix=".jsonl")
    )


def batch_predict(
    model: str,
    input_pattern: str,
    output_prefix: str,
    beam_args=(),
    batch_size: int = 16,
) -> list[str]:
    """Runs `overfeat batch-predict` and waits for it.

    Args:
        model: str. An exported model folder or version folder.
        input_pattern: str. A glob of image files, or of TFDS TFRecord files.
        output_prefix: str. Where the JSON lines go
            (`<prefix>-00000-of-0000N.jsonl`).
        beam_args: list of str. Beam pipeline options (`--runner`, ...);
            none runs on the `DirectRunner`.
        batch_size: int. Images per call of the model.

    Returns:
        list of str: the JSON-lines files written.

    Raises:
        ValueError: no SavedModel at `model`, or nothing matches
            `input_pattern`.
    """
    from overfeat_tf.serving import saved_model_path

    model = saved_model_path(model)  # a clear error before any worker starts
    if not tf.io.gfile.glob(input_pattern):
        raise ValueError(f"No file matches {input_pattern!r}.")
    options = PipelineOptions(list(beam_args))
    with beam.Pipeline(options=options) as pipeline:
        build_pipeline(pipeline, model, input_pattern, output_prefix, batch_size)
    return sorted(tf.io.gfile.glob(f"{output_prefix}-*.jsonl"))
