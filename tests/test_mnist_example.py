"""examples/mnist.py end to end (fast mode, as a subprocess): it trains, logs, checkpoints, resumes."""
import glob
import os
import re
import subprocess
import sys


import nbflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "mnist.py")


def run_example(*args, timeout=600):
    env = dict(os.environ)
    env.pop("NBFLOW_MNIST_DIR", None)
    proc = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=ROOT)
    return proc


def final_accuracy(stdout):
    m = re.search(r"final accuracy: ([0-9.]+)% on 2,000 held-out digits", stdout)
    assert m, stdout
    return float(m.group(1))


def accumulator(path):
    ea = EventAccumulator(path, size_guidance={"scalars": 0, "histograms": 0, "images": 0})
    ea.Reload()
    return ea


def test_fast_run_trains_logs_checkpoints_and_resumes(tmp_path):
    logdir = str(tmp_path / "logs")
    proc = run_example("--fast", "--logdir", logdir, "--seed", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert final_accuracy(out) > 60.0  # chance is 10%
    assert re.search(r"trained 64 steps in [0-9.]+ s: [0-9.]+ steps/s", out), out
    assert "epoch 2/2" in proc.stderr  # the tqdm progress bar
    assert re.search(r"loss=[0-9.]+, acc=[0-9.]+%", proc.stderr)

    train = accumulator(os.path.join(logdir, "train"))
    tags = train.Tags()
    assert {"loss", "accuracy", "learning_rate"} <= set(tags["scalars"])
    assert [e.step for e in train.Scalars("loss")] == list(range(0, 64, 20))
    assert {"weights/dense1/kernel", "weights/dense2/kernel", "weights/logits/kernel"} <= set(tags["histograms"])
    assert len(tags["images"]) == 4 and tags["graph"]
    assert any(n.op == "MatMul" for n in train.Graph().node)
    ev = accumulator(os.path.join(logdir, "eval"))
    accs = ev.Scalars("accuracy")
    assert [e.step for e in accs] == [32, 64]
    assert abs(accs[-1].value * 100 - final_accuracy(out)) < 0.01

    ckpt_dir = os.path.join(logdir, "checkpoints")
    latest = tf.train.latest_checkpoint(ckpt_dir)
    assert latest == os.path.join(ckpt_dir, "model.ckpt-64")
    names = dict(tf.train.list_variables(latest))
    assert names["dense1/kernel"] == [784, 64] and "global_step" in names and "epoch" in names
    assert any("Adam" in n for n in names)  # the optimizer's slots are saved too
    assert tf.train.load_variable(latest, "epoch") == 2

    # --resume goes on from epoch 3 with the saved weights (not from scratch)
    proc = run_example("--fast", "--logdir", logdir, "--seed", "1", "--resume", "--epochs", "3", "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "resumed from %s (epoch 2, step 64)" % latest in proc.stdout
    assert "epoch 1/3" not in proc.stdout and "epoch 3/3" in proc.stdout
    assert "trained 32 steps" in proc.stdout
    assert final_accuracy(proc.stdout) > 60.0
    assert tf.train.latest_checkpoint(ckpt_dir) == os.path.join(ckpt_dir, "model.ckpt-96")
    st = tf.train.get_checkpoint_state(ckpt_dir)
    assert [os.path.basename(p) for p in st.all_model_checkpoint_paths] == [
        "model.ckpt-32", "model.ckpt-64", "model.ckpt-96"]
    ev = accumulator(os.path.join(logdir, "eval"))
    assert [e.step for e in ev.Scalars("accuracy")] == [32, 64, 96]

    # resuming a finished run only evaluates
    proc = run_example("--fast", "--logdir", logdir, "--resume", "--epochs", "3", "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "trained" not in proc.stdout and final_accuracy(proc.stdout) > 60.0


def test_bad_flags():
    proc = run_example("--dropout", "1.5")
    assert proc.returncode == 2 and "--dropout must be in [0, 1)" in proc.stderr
    proc = run_example("--model", "rnn")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_cnn_model(tmp_path):
    """--model cnn in fast mode: conv 3x3x32 -> pool -> conv 3x3x64 -> pool -> dense -> dropout -> logits."""
    logdir = str(tmp_path)
    proc = run_example("--model", "cnn", "--fast", "--logdir", logdir, "--no-progress", "--flip")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "cnn model | 2000 training images" in proc.stdout
    assert re.search(r"trained 64 steps in [0-9.]+ s: [0-9.]+ steps/s", proc.stdout), proc.stdout
    assert final_accuracy(proc.stdout) > 50.0  # chance is 10%
    latest = tf.train.latest_checkpoint(os.path.join(logdir, "checkpoints"))
    names = dict(tf.train.list_variables(latest))
    assert names["conv1/kernel"] == [3, 3, 1, 32] and names["conv2/kernel"] == [3, 3, 32, 64]
    assert names["dense1/kernel"] == [7 * 7 * 64, 64] and names["logits/kernel"] == [64, 10]
    train = accumulator(os.path.join(logdir, "train"))
    assert {"weights/conv1/kernel", "weights/conv2/kernel"} <= set(train.Tags()["histograms"])
    ops = {n.op for n in train.Graph().node}
    assert {"Conv2D", "MaxPool", "Conv2DBackpropFilter", "Conv2DBackpropInput", "MaxPoolGrad"} <= ops


def test_missing_data_dir(tmp_path):
    proc = run_example("--data-dir", str(tmp_path / "none"), "--fast")
    assert proc.returncode != 0 and "never downloads" in proc.stderr


def test_resume_without_checkpoint(tmp_path):
    proc = run_example("--fast", "--epochs", "1", "--train-limit", "256", "--logdir", str(tmp_path), "--resume",
                       "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no checkpoint in" in proc.stdout and "trained 4 steps" in proc.stdout
    assert glob.glob(os.path.join(str(tmp_path), "checkpoints", "model.ckpt-4.index"))
