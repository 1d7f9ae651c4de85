"""The lean install: `pip install overfeat-tf` brings what running it needs,
no test runner and no Beam (those are the [test] and [beam] extras)."""

import importlib.metadata
import re

# Distributions a plain install must not pull in: the suite's runner and
# plugins, and Beam with what only its TensorFlow handler needs.
EXTRAS_ONLY = {"pytest", "pytest-xdist", "filelock", "apache-beam", "tensorflow-hub"}
NEEDED = {"tensorflow", "keras", "tensorflow-datasets", "numpy", "pillow", "pyyaml"}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[=<>!~;]", requirement, maxsplit=1)[0].lower()


def test_plain_install_requires_no_test_runner_and_no_beam():
    # The metadata pip recorded for this install (setup.py as installed).
    requires = importlib.metadata.requires("overfeat-tf")
    plain = {_name(r) for r in requires if "extra ==" not in r}
    assert plain >= NEEDED
    assert not plain & EXTRAS_ONLY, plain & EXTRAS_ONLY
    extras = {}
    for r in requires:
        if "extra ==" in r:
            extra = re.search(r'extra == "([^"]+)"', r).group(1)
            extras.setdefault(extra, set()).add(_name(r))
    assert {"pytest", "pytest-xdist"} <= extras["test"]
    assert "apache-beam" in extras["beam"] and "tensorflow-hub" in extras["beam"]
