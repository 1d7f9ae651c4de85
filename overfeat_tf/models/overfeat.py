"""The OverFeat model: one fully-convolutional network, any input size."""

from __future__ import annotations

import contextlib

import keras
import numpy as np

from overfeat_tf.models.backbone import backbone_layers
from overfeat_tf.models.heads import REGRESSORS, classifier_layers, regressor_layers
from overfeat_tf.specs import NetworkSpec, get_spec

__all__ = [
    "MEAN",
    "STD",
    "OverFeat",
    "as_detector",
    "feature_extractor",
    "policy_scope",
    "preprocess_input",
    "with_policy",
    "with_regressor",
]

# The original release's normalisation of RGB values in 0..255.
MEAN = 118.380948
STD = 61.896913


def preprocess_input(images):
    """Normalises RGB images in [0, 255] as the original OverFeat release does.

    Only needed with `OverFeat(include_preprocessing=False)`; by default the
    model applies it itself.

    Args:
        images: float tensor or array `[..., 3]`, RGB in [0, 255].

    Returns:
        `(images - 118.380948) / 61.896913`, same shape.
    """
    return (images - MEAN) / STD


@keras.saving.register_keras_serializable(package="overfeat_tf")
class OverFeat(keras.Model):
    """OverFeat (Sermanet et al. 2013) as a Keras functional model.

    Every layer, the fully connected ones included, is a convolution, so the
    model takes images of any size at least the spec's window (221x221
    accurate, 231x231 fast) and returns a map of class vectors: 1x1 at the
    window, one cell per 36 (accurate) or 32 (fast) pixels beyond it. For the
    fine 12 / 16 pixel stride see `overfeat_tf.ops.dense`.

    Layers are named as in the paper (`conv1`..`conv6`, `pool1`, ..., `fc7`,
    `fc8`, `fc9` for accurate; `conv1`..`conv5`, `fc6`..`fc8` for fast),
    so `model.get_layer("conv5")` and `feature_extractor(model, "conv5")`
    reach any feature map (paper 3.2).

    Args:
        spec: str, `NetworkSpec` or dict. `"accurate"`, `"fast"`, or a smaller
            preset of `overfeat_tf.specs.SPECS`.
        num_classes: int. Number of classes (1000 for ImageNet).
        include_preprocessing: bool. If True (default) the model takes RGB in
            [0, 255] and normalises it as the original release does
            (`(x - 118.380948) / 61.896913`, layer `normalize`); if False it
            takes already normalised input (see `preprocess_input`).
        classifier_activation: str or None. Activation of the `predictions`
            layer; `"softmax"` (default) or None for logits.
        regressor: None, `"single"` or `"per_class"`. Adds the box regressor
            (paper 4.2; `overfeat_tf.models.heads.regressor_layers`) on the
            same pooled map as the classifier.
        background: bool. The model is a detector (paper 5): its last class,
            index `num_classes - 1`, is background (`as_detector`).
        name: str. Model name; defaults to `overfeat_<spec name>`.

    Input: float `[batch, height, width, 3]`, height and width at least the
    window. Output: `[batch, map_height, map_width, num_classes]`; with a
    regressor, a dict of it (`"predictions"`) and the box map (`"boxes"`,
    `[batch, map_height, map_width, 4]` or `4 * num_classes`, each window's
    box edges in its own frame, `overfeat_tf.ops.boxes`).
    """

    def __init__(
        self,
        spec: str | NetworkSpec | dict = "accurate",
        num_classes: int = 1000,
        include_preprocessing: bool = True,
        classifier_activation: str | None = "softmax",
        regressor: str | None = None,
        background: bool = False,
        name: str | None = None,
        **kwargs,
    ):
        spec = get_spec(spec)
        if background and num_classes < 2:
            raise ValueError(
                "A detector needs at least one object class besides background. "
                f"Received: num_classes={num_classes!r}"
            )
        if regressor is not None and regressor not in REGRESSORS:
            raise ValueError(
                f"Unknown regressor. Expected None or one of {REGRESSORS}. "
                f"Received: regressor={regressor!r}"
            )
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(
                "num_classes must be a positive int. "
                f"Received: num_classes={num_classes!r}"
            )
        # === Layers ===
        features = backbone_layers(spec)
        head = classifier_layers(spec, num_classes, classifier_activation)

        # === Functional Model ===
        inputs = keras.Input(shape=(None, None, 3), name="image")
        x = inputs
        if include_preprocessing:
            x = keras.layers.Rescaling(1.0 / STD, offset=-MEAN / STD, name="normalize")(
                x
            )
        for layer in features:
            x = layer(x)
        pooled = x
        for layer in head:
            x = layer(x)
        outputs = x
        if regressor is not None:
            boxes = pooled
            for layer in regressor_layers(spec, num_classes, regressor):
                boxes = layer(boxes)
            outputs = {"predictions": x, "boxes": boxes}
        super().__init__(
            inputs=inputs,
            outputs=outputs,
            name=name or f"overfeat_{spec.name}",
            **kwargs,
        )

        # === Config ===
        self.spec = spec
        self.num_classes = num_classes
        self.include_preprocessing = include_preprocessing
        self.classifier_activation = classifier_activation
        self.regressor = regressor
        self.background = bool(background)

    @property
    def background_class(self) -> int | None:
        """The background class's index (the last) of a detector, else None."""
        return self.num_classes - 1 if self.background else None

    @property
    def num_object_classes(self) -> int:
        """Classes other than background."""
        return self.num_classes - int(self.background)

    @property
    def last_conv(self) -> keras.layers.Layer:
        """The last convolution (`conv6` accurate, `conv5` fast), before `pool`."""
        return self.get_layer(self.spec.conv_layers[-1].name)

    @property
    def head_layers(self) -> list[keras.layers.Layer]:
        """The classifier's layers, in order, from the pooled map to `predictions`."""
        known = {layer.name for layer in self.layers}
        names = []
        for row in self.spec.full_layers:
            names += [row.name, f"{row.name}_dropout"]
        return [self.get_layer(n) for n in names + ["predictions"] if n in known]

    @property
    def regressor_layers(self) -> list[keras.layers.Layer]:
        """The box regressor's layers, in order, from the pooled map to `boxes`
        (empty without a regressor)."""
        if self.regressor is None:
            return []
        count = len(self.spec.regressor) + 1
        names = [f"regress{i + 1}" for i in range(count)] + ["boxes"]
        return [self.get_layer(n) for n in names]

    def get_config(self):
        return {
            "spec": self.spec.to_dict(),
            "num_classes": self.num_classes,
            "include_preprocessing": self.include_preprocessing,
            "classifier_activation": self.classifier_activation,
            "regressor": self.regressor,
            "background": self.background,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def with_regressor(model: OverFeat, regressor: str = "single") -> OverFeat:
    """A copy of `model` with a new box regressor (paper 4.2).

    Every layer `model` has (features and classifier, and a regressor of the
    same kind if it has one) keeps its weights; a new regressor starts from
    its initialiser. This is how localization training starts from a
    classification model.

    Args:
        model: `OverFeat`.
        regressor: str. `"single"` or `"per_class"`.

    Returns:
        `OverFeat` with the same spec, classes and preprocessing.
    """
    out = OverFeat(
        model.spec,
        num_classes=model.num_classes,
        include_preprocessing=model.include_preprocessing,
        classifier_activation=model.classifier_activation,
        regressor=regressor,
        background=model.background,
        name=model.name,
    )
    reuse = model.regressor == regressor
    for layer in out.layers:
        if layer.weights and (reuse or not layer.name.startswith("regress")):
            layer.set_weights(model.get_layer(layer.name).get_weights())
    return out


@contextlib.contextmanager
def policy_scope(policy: str):
    """Keras layers built inside compute under the dtype policy `policy`
    (`"float32"`, `"mixed_bfloat16"`, `"mixed_float16"`); the global policy
    is restored after."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def with_policy(model, policy: str):
    """`model` if it computes under the Keras dtype policy `policy`, else a
    copy that does (`policy_scope`): same config, same weights (a mixed
    policy's variables are float32, so the weights carry over exactly)."""
    if model.dtype_policy.name == policy:
        return model
    with policy_scope(policy):
        copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def as_detector(
    model: OverFeat,
    num_object_classes: int | None = None,
    regressor: str | None = None,
    spec: NetworkSpec | None = None,
) -> OverFeat:
    """A detector (paper 5) made from a classifier: one more class, background.

    The detector's classes are the object classes followed by background
    (index `num_object_classes`, the last). Its feature layers, hidden
    classifier layers and regressor start from `model`'s. The class layer
    keeps `model`'s object columns when the classes are the same ones
    (`num_object_classes` equals `model`'s); a new set of classes (a
    classifier of other data) gets a new class layer. The background column
    starts at zero.

    Args:
        model: `OverFeat`, a classifier or a detector.
        num_object_classes: int or None (`model`'s object classes).
        regressor: None (`model`'s, or `"single"` if it has none), `"single"`
            or `"per_class"`.
        spec: `NetworkSpec` or None: `model`'s spec with other scales, say
            (the layers must be the same).

    Returns:
        `OverFeat` with `background=True` and `num_object_classes + 1`
        classes.
    """
    objects = model.num_object_classes
    count = objects if num_object_classes is None else int(num_object_classes)
    spec = spec or model.spec
    if spec.layers != model.spec.layers:
        raise ValueError(
            f"as_detector: spec {spec.name!r} has other layers than the "
            f"model's ({model.spec.name!r}); only the scales may differ."
        )
    kind = regressor or model.regressor or "single"
    out = OverFeat(
        spec,
        num_classes=count + 1,
        include_preprocessing=model.include_preprocessing,
        classifier_activation=model.classifier_activation,
        regressor=kind,
        background=True,
        name=model.name,
    )
    same_classes = count == objects
    # Layers with outputs per class (object classes first, background last).
    per_class = {spec.full_layers[-1].name}
    if kind == "per_class":
        per_class.add(out.regressor_layers[-2].name)
    for layer in out.layers:
        if not layer.weights:
            continue
        if layer.name.startswith("regress") and model.regressor != kind:
            continue  # a new regressor starts from its initialiser
        source = model.get_layer(layer.name).get_weights()
        if layer.name not in per_class:
            layer.set_weights(source)
        elif same_classes:
            layer.set_weights(_with_background(layer, source))
    return out


def _with_background(layer, source):
    """`layer`'s kernel and bias: `source`'s object columns, then its
    background columns if it has them (a detector), else zeros."""
    kernel, bias = (np.zeros_like(np.asarray(w)) for w in layer.get_weights())
    n = min(source[1].shape[-1], bias.shape[-1])
    kernel[..., :n], bias[:n] = source[0][..., :n], source[1][:n]
    return [kernel, bias]


def feature_extractor(model: keras.Model, layers: str | list[str]) -> keras.Model:
    """A model giving the named layers' maps for an image (paper 3.2).

    Args:
        model: `OverFeat` (or any functional model).
        layers: str or list of str. Layer names, e.g. `"conv5"` or
            `["conv2", "pool6"]`.

    Returns:
        `keras.Model` with the same input as `model` and one output per name
        (a single tensor for a single str).

    Raises:
        ValueError: if a name is not a layer of `model`.
    """
    names = [layers] if isinstance(layers, str) else list(layers)
    known = [layer.name for layer in model.layers]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(
            f"No layer named {unknown or names} in {model.name}. "
            f"Expected one of {known[1:]}. Received: layers={layers!r}"
        )
    outputs = [model.get_layer(n).output for n in names]
    return keras.Model(
        model.input,
        outputs[0] if isinstance(layers, str) else outputs,
        name=f"{model.name}_features",
    )
