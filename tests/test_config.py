"""Configs: presets, YAML files, `--set` overrides, their errors."""

import dataclasses
import warnings

import pytest

from overfeat_tf.config import (
    PRESETS,
    Config,
    apply_overrides,
    config_from_dict,
    get_config,
    load_config,
    save_config,
)


def test_default_is_the_papers_recipe():
    # Paper 3.1, read off the text; catches a default drifting to a preset's
    # own choice (fashion_small's Adam, decoupled decay, scale jittering).
    config = Config()
    train, data = config.train, config.data
    assert (train.base_learning_rate, train.base_batch_size) == (5e-2, 128)
    assert train.global_batch_size == 128
    assert tuple(train.lr_decay_epochs) == (30, 50, 60, 70, 80)
    assert train.lr_decay_factor == 0.5
    assert (train.optimizer, train.momentum, train.weight_decay) == ("sgd", 0.6, 1e-5)
    assert train.weight_decay_mode == "l2"
    assert data.resize_short == 256 and data.resize_short_max is None
    assert get_config("accurate").train == train
    assert get_config("fast").model.arch == "fast"


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_yaml_round_trip_of_every_preset(name, tmp_path):
    # save_config then load_config gives the same config: catches a field
    # written in a form the loader cannot read back (tuples, None, floats
    # such as 1e-05 that YAML reads as strings).
    config = get_config(name)
    save_config(config, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == config


def test_preset_key_starts_from_the_preset(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("preset: fashion_small\ntrain:\n  epochs: 3\n")
    config = load_config(path)
    want = get_config("fashion_small")
    assert config.train.epochs == 3
    assert config.model == want.model and config.data == want.data
    assert dataclasses.replace(config.train, epochs=want.train.epochs) == want.train


def test_overrides_parse_to_the_fields_types():
    config = apply_overrides(
        Config(),
        [
            "train.epochs=7",
            "train.weight_decay=1e-4",
            "train.lr_decay_epochs=[2, 5]",
            "export.scales=null",
            "export.flips=false",
            "data.data_dir=/tmp/tfds",
        ],
    )
    assert config.train.epochs == 7 and config.train.weight_decay == 1e-4
    assert config.train.lr_decay_epochs == (2, 5)
    assert config.export.scales is None and config.export.flips is False
    assert config.data.data_dir == "/tmp/tfds"
    assert isinstance(
        apply_overrides(Config(), ["train.momentum=1"]).train.momentum, float
    )


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["train.epochs=three"], "train.epochs expects a int"),
        (["train.epochs=true"], "train.epochs expects a int"),
        (["export.flips=2"], "export.flips expects a bool"),
        (["train.lr_decay_epochs=5"], "train.lr_decay_epochs expects a list"),
        (["model.arch=null"], "model.arch cannot be null"),
        (["train.epoch=3"], "Unknown config key 'train.epoch'. Keys of train"),
        (["training.epochs=3"], "Unknown config key 'training.epochs'. Sections"),
        (["train.epochs"], "Overrides are key=value"),
    ],
)
def test_bad_overrides_name_what_is_wrong(overrides, message):
    with pytest.raises(ValueError, match=message):
        apply_overrides(Config(), overrides)


def test_bad_files_and_presets(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("- a list\n")
    with pytest.raises(ValueError, match="must hold a mapping"):
        load_config(path)
    with pytest.raises(ValueError, match="section 'train' must be a mapping"):
        config_from_dict({"train": 3})
    with pytest.raises(ValueError, match="Unknown config preset"):
        get_config("imagenet")


def test_retired_key_warns_and_is_ignored():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = config_from_dict({"export": {"max_side": 4096}})
    assert config.export == Config().export
    assert "export.max_pixels" in str(caught[0].message)
