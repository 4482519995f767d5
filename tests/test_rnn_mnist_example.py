"""examples/rnn_mnist.py end to end (fast mode, as a subprocess): the LSTM trains."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "rnn_mnist.py")


def run_example(*args, timeout=300):
    env = dict(os.environ)
    env.pop("NBFLOW_MNIST_DIR", None)
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=ROOT)


def test_fast_run_trains():
    proc = run_example("--fast", "--no-progress", "--seed", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "LSTM(32) over 28 rows | 1024 training images, 2,000 held-out digits" in out, out
    epochs = re.findall(r"epoch (\d)/2: train loss ([0-9.]+), train accuracy [0-9.]+%, held-out loss ([0-9.]+), "
                        r"accuracy ([0-9.]+)%", out)
    assert [e[0] for e in epochs] == ["1", "2"], out
    assert float(epochs[1][1]) < float(epochs[0][1]) < 2.5  # the training loss falls (ln 10 = 2.30 at chance)
    assert float(epochs[1][2]) < 2.0
    m = re.search(r"final accuracy: ([0-9.]+)% on 2,000 held-out digits", out)
    assert m and float(m.group(1)) > 30.0, out  # chance is 10%
    assert re.search(r"trained 64 steps in [0-9.]+ s", out), out


def test_bad_flags_and_missing_data(tmp_path):
    proc = run_example("--epochs", "0")
    assert proc.returncode == 2 and "must be positive" in proc.stderr
    proc = run_example("--data-dir", str(tmp_path / "none"), "--fast")
    assert proc.returncode != 0 and "never downloads" in proc.stderr
