"""examples/tf_data_pipeline.py end to end (fast mode, as a subprocess): a graph-mode MLP fed by
tf.data reaches >= 90% on the held-out bundled digits."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "tf_data_pipeline.py")


def test_fast_run_trains_to_90_percent():
    env = dict(os.environ)
    env.pop("NBFLOW_MNIST_DIR", None)
    proc = subprocess.run([sys.executable, SCRIPT, "--fast"], capture_output=True, text=True, timeout=600,
                          env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    epochs = re.findall(r"epoch (\d)/3: 125 steps, mean loss ([0-9.]+), held-out accuracy ([0-9.]+)%", proc.stdout)
    assert [e[0] for e in epochs] == ["1", "2", "3"], proc.stdout
    losses = [float(e[1]) for e in epochs]
    assert losses[-1] < losses[0]
    m = re.search(r"final accuracy: ([0-9.]+)% on 2,000 held-out digits", proc.stdout)
    assert m and float(m.group(1)) >= 90.0, proc.stdout
