"""`overfeat describe`: the real command, its JSON, and its errors."""

import json

import pytest
from conftest import run_cli

from overfeat_tf import geometry
from overfeat_tf.cli import build_parser, main
from overfeat_tf.specs import get_spec


@pytest.mark.slow
@pytest.mark.parametrize("arch, params", [("accurate", 144656488), ("fast", 145920872)])
def test_describe_json_full_networks(arch, params):
    out = run_cli("describe", "--arch", arch, "--json")
    assert out.returncode == 0, out.stderr
    # Catches TensorFlow's C++ start-up lines (CUDA probing, CPU notices)
    # reaching the user: a quiet command writes nothing to stderr.
    assert out.stderr == ""
    info = json.loads(out.stdout)
    assert info["params"] == params
    assert info["arch"] == arch
    spec = get_spec(arch)
    assert [row["input"] for row in info["sizes"]] == [[spec.window] * 2] + [
        list(s) for s in spec.scales
    ]
    for row in info["sizes"]:
        m = geometry.map_sizes(arch, row["input"])
        assert row["prepool"] == list(m.prepool)
        assert row["postpool"] == list(m.postpool)
        assert row["coarse_map"] == list(m.coarse_map)
        assert row["fine_map"] == list(m.fine_map)
    if arch == "accurate":
        # Table 5, scale 6.
        assert info["sizes"][-1]["fine_map"] == [21, 30]
        assert info["stride"] == {"coarse": 36, "fine": 12}
    else:
        assert info["stride"] == {"coarse": 32, "fine": 16}


def test_describe_table_and_sizes(capsys):
    assert (
        main(
            [
                "describe",
                "--arch",
                "tiny_fast",
                "--size",
                "81x81",
                "--size",
                "113",
                "--classes",
                "3",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "OverFeat tiny_fast" in out and "stride 32 coarse / 16 fine" in out
    assert " 81x81" in out and "113x113" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--arch", "huge"], "invalid choice: 'huge'"),
        (["--arch", "fast", "--size", "12x"], "Malformed size '12x'"),
        (
            ["--arch", "fast", "--size", "200x300"],
            "200x300 is smaller than the 'fast' network's window of 231x231",
        ),
        (["--classes", "0"], "Received: '0'"),
    ],
)
def test_describe_errors(args, message):
    out = run_cli("describe", *args)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    # The error is the last line, and nothing of TensorFlow's comes before
    # the usage line or the error itself.
    assert out.stderr.splitlines()[0].startswith(
        ("usage: overfeat", "overfeat describe")
    )


def test_quiet_whatever_tf_cpp_min_log_level_says():
    # A user who set TensorFlow's log level (2, as most do, or 0) gets no
    # more of its start-up lines than one who did not: catches the command
    # leaving TensorFlow alone when the variable is set.
    out = run_cli("describe", "--arch", "tiny_fast", env={"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert "OverFeat tiny_fast" in out.stdout


def test_verbose_shows_what_tensorflow_says():
    # --verbose before or after the command: catches the subcommand's
    # default undoing a flag given before it (argparse copies subparser
    # defaults over the main parser's).
    for argv in (["-v", "describe"], ["describe", "--verbose"]):
        args = build_parser().parse_args(argv)
        assert args.verbose is True
    assert build_parser().parse_args(["describe"]).verbose is False
