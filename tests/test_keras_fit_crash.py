"""A fit killed by SIGKILL mid-epoch leaves the last ModelCheckpoint restorable.

A child process trains with ``ModelCheckpoint(save_weights_only=True,
save_freq=<a few batches>)`` -- so checkpoints are written often and the kill
may land in the middle of one -- and prints a line after each checkpoint. The
test kills it at several moments and loads whatever checkpoint is on disk into a
fresh model: it must load, and give the predictions of a set of weights the
child actually saved.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import nbflow as tf
from nbflow.framework import context

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    import nbflow as tf
    tf.enable_eager_execution()
    path = sys.argv[1]
    rng = np.random.RandomState(0)
    x = rng.standard_normal((4096, 32)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = tf.keras.Sequential([tf.keras.layers.Dense(256, activation="relu", input_shape=(32,)),
                                 tf.keras.layers.Dense(2)])
    model.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    class Announce(tf.keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch % 4 == 3:
                print("SAVED", flush=True)

    ckpt = tf.keras.callbacks.ModelCheckpoint(path, save_weights_only=True, save_freq=4)
    model.fit(x, y, batch_size=32, epochs=1000, verbose=0, callbacks=[ckpt, Announce()])
""")


def _model():
    model = tf.keras.Sequential([tf.keras.layers.Dense(256, activation="relu", input_shape=(32,)),
                                 tf.keras.layers.Dense(2)])
    model.build((None, 32))
    return model


@pytest.mark.parametrize("kill_after_saves", [1, 3, 7])
def test_sigkill_during_fit_leaves_the_last_checkpoint_restorable(tmp_path, kill_after_saves):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    path = str(tmp_path / "ckpt" / "weights")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, str(script), path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    saves = 0
    deadline = time.time() + 240
    try:
        while saves < kill_after_saves and time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("SAVED"):
                saves += 1
        assert saves == kill_after_saves, "the child stopped before saving: %s" % proc.stdout.read()
        time.sleep(0.01 * kill_after_saves)  # somewhere in the following batches (maybe mid-write)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    with context.eager_mode():
        model = _model()
        before = [w.copy() for w in model.get_weights()]
        model.load_weights(path)
        after = model.get_weights()
        assert any(not np.array_equal(a, b) for a, b in zip(before, after))
        out = model.predict(np.ones((4, 32), np.float32))
        assert np.all(np.isfinite(out))
    leftovers = [n for n in os.listdir(tmp_path / "ckpt") if "tmp" in n.lower()]
    # debris of an interrupted write may remain until the next save cleans it; it must not be loaded
    assert all(not n.endswith(".index") for n in leftovers)
