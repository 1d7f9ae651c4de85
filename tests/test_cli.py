"""`overfeat describe`: the real command, its JSON, and its errors."""

import json

import pytest
from conftest import run_cli

from overfeat_tf import geometry
from overfeat_tf.cli import main
from overfeat_tf.specs import get_spec


@pytest.mark.slow
@pytest.mark.parametrize("arch, params", [("accurate", 144656488), ("fast", 145920872)])
def test_describe_json_full_networks(arch, params):
    out = run_cli("describe", "--arch", arch, "--json")
    assert out.returncode == 0, out.stderr
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
