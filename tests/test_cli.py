"""The bpv CLI: man-page help, bad input as one clear line with exit 2, no traceback."""

import subprocess
import sys

import pytest

from derive.cli.app import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "derive", *args], capture_output=True, text=True, timeout=120)


def test_model_flag_help_lists_the_catalog_and_every_registry_entry_with_its_summary(capsys):
    from numeric.catalog import CATALOG, SHARED_CATALOG
    from numeric.functions import ACTIVATIONS, COSTS

    assert main(["derive", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the help text
    for name, entry in [*ACTIVATIONS.items(), *COSTS.items()]:
        assert f"{name}: {' '.join(entry.summary.split())}" in out
    for name, spec in [*CATALOG.items(), *SHARED_CATALOG.items()]:
        assert f"{name}: {' '.join(spec.description.split())}" in out


def test_help_reads_like_a_manual():
    proc = run("--help")
    assert proc.returncode == 0
    assert "backprop, derived and verified" in proc.stdout and "examples:" in proc.stdout
    assert "derive" in proc.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["derive", "--net", "3-2", "--act", "mish"], "known activations: identity, sigmoid"),
        (["derive", "--net", "3-4-2", "--act", "softmax,sigmoid"], "softmax in hidden layer 1"),
        (["derive", "--net", "3--1"], "not a list of positive layer sizes"),
        (["derive", "--net", "0-3"], "at least 1"),
        (["derive", "--net", "-3-2"], "not a list of positive layer sizes"),
        (["derive", "--net", "3"], "no layer"),
        (["derive", "--net", "3-4-2", "--act", "relu,relu,relu"], "names 3 activations"),
        (["derive", "--net", "3-2", "--cost", "hinge"], "unknown cost 'hinge'"),
        (["derive", "--net", "3-2", "--act", "leaky_relu:abc"], "not a number"),
        (["derive", "lenet"], "unknown model 'lenet'"),
        (["derive", "--cost", "bce"], "add --net"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_net_with_leading_dash_is_bad_input_in_a_subprocess():
    proc = run("derive", "--net=-3-2")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_derive_prints_each_step_with_a_verdict():
    proc = run("derive", "--net", "3-1", "--act", "sigmoid", "--cost", "bce")
    assert proc.returncode == 0, proc.stderr
    assert "σ'(z) = σ(z)*(1 - σ(z))" in proc.stdout
    assert "δ^L_j = a^L_j - y_j" in proc.stdout and "✓ holds" in proc.stdout
