"""examples/mnist.py end to end (fast mode, as a subprocess): it trains, logs, checkpoints, resumes;
each run gets its own run folder."""
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


def run_dirs(logdir):
    return sorted(glob.glob(os.path.join(logdir, "run-*")))


def event_files(run_dir):
    return sorted(glob.glob(os.path.join(run_dir, "*", "events.out.tfevents.*")))


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
    # while the first step compiles, the bar says so (and shows no rate or ETA)
    frames = proc.stderr.replace("\r", "\n").splitlines()
    compiling = [f for f in frames if "compiling kernels" in f]
    assert compiling and all(f.strip() == "epoch 1/2: compiling kernels\u2026" for f in compiling), compiling
    first = frames.index(compiling[0])
    assert not [f for f in frames[:first] if "step/s" in f]
    # then the bar counts from the first finished step: no rate or ETA from the compile
    assert "epoch 1/2:   3%" in frames[first + 1] or "1/32 [00:00<?, ?step/s]" in "\n".join(frames[first:first + 4])

    # the run went to a new run folder: logs/run-YYYYmmdd-HHMMSS
    (run,) = run_dirs(logdir)
    assert re.fullmatch(r"run-\d{8}-\d{6}", os.path.basename(run)), run
    assert "run folder: %s" % run in out
    train = accumulator(os.path.join(run, "train"))
    tags = train.Tags()
    assert {"loss", "accuracy", "learning_rate"} <= set(tags["scalars"])
    assert [e.step for e in train.Scalars("loss")] == list(range(0, 64, 20))
    assert {"weights/dense1/kernel", "weights/dense2/kernel", "weights/logits/kernel"} <= set(tags["histograms"])
    assert len(tags["images"]) == 4 and tags["graph"]
    assert any(n.op == "MatMul" for n in train.Graph().node)
    ev = accumulator(os.path.join(run, "eval"))
    accs = ev.Scalars("accuracy")
    assert [e.step for e in accs] == [32, 64]
    assert abs(accs[-1].value * 100 - final_accuracy(out)) < 0.01

    ckpt_dir = os.path.join(run, "checkpoints")
    latest = tf.train.latest_checkpoint(ckpt_dir)
    assert latest == os.path.join(ckpt_dir, "model.ckpt-64")
    names = dict(tf.train.list_variables(latest))
    assert names["dense1/kernel"] == [784, 64] and "global_step" in names and "epoch" in names
    assert any("Adam" in n for n in names)  # the optimizer's slots are saved too
    assert tf.train.load_variable(latest, "epoch") == 2

    # --resume goes on in the same run folder from epoch 3 with the saved weights (not from scratch)
    proc = run_example("--fast", "--logdir", logdir, "--seed", "1", "--resume", "--epochs", "3", "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "resumed from %s (epoch 2, step 64)" % latest in proc.stdout
    assert "epoch 1/3" not in proc.stdout and "epoch 3/3" in proc.stdout
    assert "trained 32 steps" in proc.stdout
    assert final_accuracy(proc.stdout) > 60.0
    assert run_dirs(logdir) == [run]
    assert tf.train.latest_checkpoint(ckpt_dir) == os.path.join(ckpt_dir, "model.ckpt-96")
    st = tf.train.get_checkpoint_state(ckpt_dir)
    assert [os.path.basename(p) for p in st.all_model_checkpoint_paths] == [
        "model.ckpt-32", "model.ckpt-64", "model.ckpt-96"]
    ev = accumulator(os.path.join(run, "eval"))
    assert [e.step for e in ev.Scalars("accuracy")] == [32, 64, 96]
    assert [e.step for e in accumulator(os.path.join(run, "train")).Scalars("loss")] == [0, 20, 40, 60, 80]

    # resuming a finished run has nothing left to train: it only evaluates, and writes no event file
    files = event_files(run)
    proc = run_example("--fast", "--logdir", logdir, "--resume", "--epochs", "3", "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "nothing left to train" in proc.stdout and "--epochs" in proc.stdout
    assert "trained" not in proc.stdout and final_accuracy(proc.stdout) > 60.0
    assert event_files(run) == files and run_dirs(logdir) == [run]

    # running again (without --resume) starts a new run folder and leaves the first one alone
    proc = run_example("--fast", "--epochs", "1", "--train-limit", "256", "--logdir", logdir, "--no-progress")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(run_dirs(logdir)) == 2 and run_dirs(logdir)[0] == run and event_files(run) == files
    second = run_dirs(logdir)[1]
    assert [e.step for e in accumulator(os.path.join(second, "eval")).Scalars("accuracy")] == [4]
    assert tf.train.latest_checkpoint(os.path.join(second, "checkpoints")).endswith("model.ckpt-4")


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
    (run,) = run_dirs(logdir)
    latest = tf.train.latest_checkpoint(os.path.join(run, "checkpoints"))
    names = dict(tf.train.list_variables(latest))
    assert names["conv1/kernel"] == [3, 3, 1, 32] and names["conv2/kernel"] == [3, 3, 32, 64]
    assert names["dense1/kernel"] == [7 * 7 * 64, 64] and names["logits/kernel"] == [64, 10]
    train = accumulator(os.path.join(run, "train"))
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
    assert glob.glob(os.path.join(str(tmp_path), "run-*", "checkpoints", "model.ckpt-4.index"))


def test_run_folders(tmp_path, monkeypatch):
    """new_run_dir numbers runs started in the same second; latest_run_dir picks the newest."""
    import importlib.util

    # (the script sets OPENBLAS_NUM_THREADS when imported: undone after the test)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    spec = importlib.util.spec_from_file_location("mnist_example", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    root = str(tmp_path)
    assert mod.latest_run_dir(root) is None
    os.makedirs(os.path.join(root, "checkpoints"))  # the layout before run folders: LOGDIR is the run
    assert mod.latest_run_dir(root) == root
    for name in ["run-20240101-120000", "run-20240101-120000-2", "run-20240101-120000-10",
                 "run-20231231-235959", "run-99999999-999999-x", "notes"]:
        os.makedirs(os.path.join(root, name))
    assert mod.latest_run_dir(root) == os.path.join(root, "run-20240101-120000-10")
    a = mod.new_run_dir(root)
    b = mod.new_run_dir(root)
    assert os.path.isdir(a) and os.path.isdir(b) and a != b
    assert re.fullmatch(r"run-\d{8}-\d{6}(-\d+)?", os.path.basename(b))
    assert mod.latest_run_dir(root) == b
