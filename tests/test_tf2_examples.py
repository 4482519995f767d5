"""The TF 2 examples run end to end (subprocesses) and print what they should."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_example(name, *args):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    env.pop("NBFLOW_MNIST_DIR", None)  # the bundled digits, whatever the machine has
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "examples", name), *args],
                          capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_tf2_mnist_reaches_95_percent():
    out = run_example("tf2_mnist.py")
    assert "variables: mlp/dense/b:0, mlp/dense/w:0" in out
    acc = float(re.search(r"final held-out accuracy ([0-9.]+)%", out).group(1))
    assert acc >= 95.0, out


def test_tf2_mnist_eagerly_op_by_op():
    out = run_example("tf2_mnist.py", "--no-function", "--epochs", "2", "--hidden", "64")
    acc = float(re.search(r"final held-out accuracy ([0-9.]+)%", out).group(1))
    assert acc >= 85.0, out


def test_eager_basics_prints_the_decks_values():
    out = run_example("eager_basics.py")
    assert out.startswith("tf.Tensor(8, shape=(), dtype=int32)\nx= 1.0 --> z= 2.7\nx= 0.6 --> z= 1.9\n"
                          "x=-1.8 --> z=-2.9\n")
    assert "d loss / d w = 10.20, d loss / d b = 3.40" in out
    assert "sum of even numbers below 10: 20" in out
