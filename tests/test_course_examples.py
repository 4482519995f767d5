"""The course examples (examples/*.py) run end to end in --fast mode, as subprocesses,
and what they print shows that they actually learned / computed the right thing."""
import importlib.util
import math
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_example(name, *args, cwd=ROOT):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    env.pop("NBFLOW_MNIST_DIR", None)  # the bundled digits, whatever the machine has
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "examples", name), "--fast", *args],
                          capture_output=True, text=True, timeout=120, env=env, cwd=cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def number(pattern, out):
    m = re.search(pattern, out)
    assert m, "%r not found in:\n%s" % (pattern, out)
    return float(m.group(1))


FLOAT = r"([-+0-9.eE]+|nan|inf)"


def test_damped_cosine_gradient_matches_analytic_derivative():
    out = run_example("damped_cosine.py")
    assert number(r"max abs error of y: " + FLOAT, out) < 1e-10
    assert number(r"max abs error of dy/dt: " + FLOAT, out) < 1e-4


def test_logistic_regression_separates_the_blobs():
    out = run_example("logistic_regression.py")
    assert number(r"step +0: loss " + FLOAT, out) == pytest.approx(math.log(2), abs=1e-3)  # zero weights
    assert number(r"final loss " + FLOAT, out) < 0.3
    assert number(r"accuracy " + FLOAT, out) > 0.9


def test_softmax_regression_on_mnist():
    out = run_example("softmax_regression.py")
    assert number(r"held-out loss " + FLOAT, out) < 1.0  # chance: ln 10 = 2.30
    assert number(r"accuracy " + FLOAT, out) > 0.6


def test_dnn_mnist_uses_variable_scopes_and_learns():
    out = run_example("dnn_mnist.py")
    for name in ["dnn/hidden1/weights:0 (784, 256)", "dnn/hidden2/biases:0 (128,)", "dnn/output/weights:0 (128, 10)"]:
        assert name in out, out
    assert number(r"accuracy " + FLOAT, out) > 0.7


def test_autoencoder_reconstruction_loss_goes_down(tmp_path):
    png = tmp_path / "recon.png"
    out = run_example("autoencoder.py", "--out", str(png), cwd=str(tmp_path))
    start = number(r"reconstruction loss at start " + FLOAT, out)
    end = number(r"reconstruction loss at end " + FLOAT, out)
    assert math.isfinite(start) and math.isfinite(end)
    assert end < 0.5 * start, out
    if importlib.util.find_spec("matplotlib") is not None:
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert "matplotlib is not installed" in out and not png.exists()


def test_gan_losses_are_finite_and_each_player_has_its_own_variables():
    out = run_example("gan.py")
    assert re.search(r"generator variables: generator/hidden/weights, .*generator/image/biases\n", out), out
    assert "discriminator/" not in re.search(r"generator variables: (.*)", out).group(1)
    assert "generator/" not in re.search(r"discriminator variables: (.*)", out).group(1).replace("discriminator/", "")
    pairs = re.findall(r"step +\d+: d_loss " + FLOAT + r"  g_loss " + FLOAT, out)
    assert len(pairs) == 4, out  # every 10 of 40 steps
    values = [float(v) for pair in pairs for v in pair]
    assert all(math.isfinite(v) for v in values), out
    # Both start near 2 ln 2 / ln 2; after 40 steps the discriminator must have learned something.
    assert float(pairs[-1][0]) < 1.2, out
