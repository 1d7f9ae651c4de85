"""overfeat-tf: OverFeat (Sermanet et al. 2013) in TensorFlow / Keras."""

import pathlib

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent


def _requirements():
    lines = (HERE / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


setup(
    name="overfeat-tf",
    version="0.1.0",
    description="OverFeat: integrated classification, localization and detection "
    "with convolutional networks, in TensorFlow / Keras.",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["overfeat_tf", "overfeat_tf.*"]),
    install_requires=_requirements(),
    extras_require={
        # The test suite: `pip install -e .[test,beam]` (its Beam tests need
        # [beam]). Two pytest-xdist workers share one TFDS folder and build
        # each dataset once, under a file lock.
        "test": ["pytest", "pytest-xdist", "filelock"],
        # `overfeat batch-predict`: RunInference on Beam (DirectRunner,
        # Dataflow, Flink, Spark); Beam's TensorFlow model handler imports
        # tensorflow_hub.
        "beam": ["apache-beam==2.77.*", "tensorflow-hub"],
        # NVIDIA GPUs: CUDA and cuDNN from PyPI for the pinned TensorFlow
        # (docs/training.md, "Training on GPUs").
        "gpu": ["tensorflow[and-cuda]==2.21.*"],
    },
    entry_points={"console_scripts": ["overfeat = overfeat_tf.cli:main"]},
    license="MIT",
)
