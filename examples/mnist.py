#!/usr/bin/env python
"""Train a classifier on MNIST digits with nbflow's TensorFlow 1.x API.

    python examples/mnist.py                      # MLP on the bundled digits
    python examples/mnist.py --epochs 5 --lr 3e-4 # other settings
    python examples/mnist.py --resume             # go on with the latest run from its last checkpoint
    python examples/mnist.py --model cnn          # a small convolutional network
    python examples/mnist.py --model cnn --data-dir /usr/share/datasets/fashion-mnist --augment 1 --flip
    tensorboard --logdir logs/mnist               # loss, accuracy, weights, inputs, graph; one run per folder

By default it trains a 784-512-512-10 ReLU network with dropout on the 8,000
training digits bundled with nbflow (Adam, learning rate decayed every epoch,
shuffled mini-batches, inputs randomly shifted by up to 2 pixels) and evaluates on
the 2,000 held-out digits after every epoch. Each run gets a fresh run folder
``<logdir>/run-YYYYmmdd-HHMMSS`` (``-2``, ``-3``, ... if that exists), with
TensorBoard logs in ``train/`` and ``eval/`` and a checkpoint in ``checkpoints/``
after every epoch; TensorBoard shows each run folder as its own runs.
``--resume`` continues the latest run folder instead (see its help).
``--data-dir`` points it at the full MNIST or Fashion-MNIST (IDX files); nothing
is downloaded.

``--model cnn`` trains conv 3x3x32 + ReLU -> 2x2 max pool -> conv 3x3x64 + ReLU
-> 2x2 max pool -> dense 128 + ReLU -> dropout 0.4 -> softmax, with the same
optimizer, schedule and augmentation (``--flip`` adds random left-right mirroring,
which suits clothing but not digits).
"""
import os
import time

_PROCESS_START = time.time()  # before nbflow's import, so the total includes it

# One BLAS thread unless you say otherwise (set OPENBLAS_NUM_THREADS to override).
# Measured on the 2-core machine: at these sizes (batch 128, 512 units) a second
# thread gave no speed-up (~120 steps/s either way), and while another process
# kept a core busy, OpenBLAS's spinning threads cut it to 10-15 steps/s against
# 105-115 with one thread. It must be set before numpy/scipy load OpenBLAS.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import collections  # noqa: E402
import itertools  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

import nbflow as tf  # noqa: E402
from nbflow.datasets import mnist  # noqa: E402

MEAN, STD = 0.1307, 0.3081  # MNIST pixel statistics (of x / 255)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default 20; 2 with --fast)")
    p.add_argument("--batch-size", type=int, default=None, help="mini-batch size (default 128; 64 with --fast)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's initial learning rate")
    p.add_argument("--lr-decay", type=float, default=0.9, help="learning rate factor applied after every epoch")
    p.add_argument("--model", choices=["mlp", "cnn"], default="mlp", help="network")
    p.add_argument("--hidden", type=int, default=None,
                   help="units per hidden dense layer (default: mlp 512, cnn 128; 64 with --fast)")
    p.add_argument("--dropout", type=float, default=None,
                   help="dropout rate after each hidden dense layer while training (default: mlp 0.2, cnn 0.4)")
    p.add_argument("--augment", type=int, default=2,
                   help="shift training images randomly by up to this many pixels (0: off)")
    p.add_argument("--flip", action="store_true",
                   help="also mirror training images left-right at random (for clothing, not digits)")
    p.add_argument("--data-dir", default=None,
                   help="directory with MNIST-format IDX files (default: $NBFLOW_MNIST_DIR, else the bundled digits)")
    p.add_argument("--logdir", default=os.path.join("logs", "mnist"),
                   help="each run writes to a new folder LOGDIR/run-YYYYmmdd-HHMMSS[-N]: TensorBoard logs in "
                        "train/ and eval/, checkpoints in checkpoints/")
    p.add_argument("--seed", type=int, default=0, help="seed for initialization, shuffling, dropout, shifts")
    p.add_argument("--resume", action="store_true",
                   help="continue the latest run folder in LOGDIR (or LOGDIR itself if it has a checkpoints/ "
                        "folder) from its last checkpoint, logging to the same run. If that run already trained "
                        "--epochs epochs, there is nothing left to train: it only evaluates and writes no event "
                        "file; pass a larger --epochs to train on. Without a checkpoint it starts a new run")
    p.add_argument("--log-every", type=int, default=20, help="write training scalars every N steps")
    p.add_argument("--fast", action="store_true",
                   help="a quick smoke run: 2 epochs, 64 hidden units, 2,000 training images")
    p.add_argument("--train-limit", type=int, default=None, help="use only the first N training images")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    fast = args.fast
    if args.epochs is None:
        args.epochs = 2 if fast else 20
    if args.batch_size is None:
        args.batch_size = 64 if fast else 128
    if args.hidden is None:
        args.hidden = 64 if fast else (512 if args.model == "mlp" else 128)
    if args.dropout is None:
        args.dropout = 0.2 if args.model == "mlp" else 0.4
    if args.train_limit is None and fast:
        args.train_limit = 2000
    if args.epochs < 1 or args.batch_size < 1 or args.hidden < 1:
        p.error("--epochs, --batch-size and --hidden must be positive")
    if not 0.0 <= args.dropout < 1.0:
        p.error("--dropout must be in [0, 1)")
    if args.model == "cnn" and not (hasattr(tf.nn, "conv2d") and hasattr(tf.nn, "max_pool")):
        p.error("--model cnn needs tf.nn.conv2d and tf.nn.max_pool, which nbflow does not implement yet; "
                "use --model mlp")
    return args


# -- the model --------------------------------------------------------------------------

def dense(x, n_in, n_out, name, seed):
    """A fully connected layer with He-initialized weights."""
    with tf.name_scope(name):
        w = tf.Variable(tf.truncated_normal([n_in, n_out], stddev=np.sqrt(2.0 / n_in), seed=seed), name="kernel")
        b = tf.Variable(tf.zeros([n_out]), name="bias")
        return tf.nn.bias_add(tf.matmul(x, w), b), w


def mlp(x, hidden, dropout_rate, seed):
    h, weights = x, []
    for i, n_in in enumerate([784, hidden]):
        z, w = dense(h, n_in, hidden, "dense%d" % (i + 1), seed + i)
        h = tf.nn.dropout(tf.nn.relu(z), rate=dropout_rate, seed=seed + 10 + i)
        weights.append(w)
    logits, w = dense(h, hidden, 10, "logits", seed + 2)
    return logits, weights + [w]


def cnn(x, hidden, dropout_rate, seed):
    """conv 3x3x32 + ReLU -> 2x2 max pool -> conv 3x3x64 + ReLU -> 2x2 max pool -> dense + ReLU -> dropout
    -> logits (NHWC, SAME padding)."""
    img = tf.reshape(x, [-1, 28, 28, 1])
    weights = []
    for i, (c_in, c_out) in enumerate([(1, 32), (32, 64)]):
        with tf.name_scope("conv%d" % (i + 1)):
            k = tf.Variable(tf.truncated_normal([3, 3, c_in, c_out], stddev=np.sqrt(2.0 / (9 * c_in)),
                                                seed=seed + i), name="kernel")
            b = tf.Variable(tf.zeros([c_out]), name="bias")
            img = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(img, k, strides=[1, 1, 1, 1], padding="SAME"), b))
            img = tf.nn.max_pool(img, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
            weights.append(k)
    flat = tf.reshape(img, [-1, 7 * 7 * 64])
    z, w = dense(flat, 7 * 7 * 64, hidden, "dense1", seed + 5)
    h = tf.nn.dropout(tf.nn.relu(z), rate=dropout_rate, seed=seed + 11)
    logits, w2 = dense(h, hidden, 10, "logits", seed + 6)
    return logits, weights + [w, w2]


def build_graph(args, steps_per_epoch):
    tf.set_random_seed(args.seed)
    images = tf.placeholder(tf.uint8, [None, 28, 28], name="images")
    labels = tf.placeholder(tf.int64, [None], name="labels")
    dropout_rate = tf.placeholder_with_default(0.0, [], name="dropout_rate")
    with tf.name_scope("normalize"):
        x = (tf.cast(tf.reshape(images, [-1, 784]), tf.float32) / 255.0 - MEAN) / STD
    build = mlp if args.model == "mlp" else cnn
    logits, weights = build(x, args.hidden, dropout_rate, args.seed)
    with tf.name_scope("cross_entropy"):
        loss = tf.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    with tf.name_scope("metrics"):  # (a scope named "accuracy" would make the summary tag "accuracy_1")
        correct = tf.equal(tf.argmax(logits, 1), labels)
        accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
    global_step = tf.train.get_or_create_global_step()
    epoch = tf.Variable(0, trainable=False, name="epoch", dtype=tf.int64)
    next_epoch = epoch.assign_add(1)
    learning_rate = tf.train.exponential_decay(args.lr, global_step, steps_per_epoch, args.lr_decay,
                                               staircase=True)
    train_op = tf.train.AdamOptimizer(learning_rate).minimize(loss, global_step=global_step)

    train_summaries = tf.summary.merge([tf.summary.scalar("loss", loss), tf.summary.scalar("accuracy", accuracy),
                                        tf.summary.scalar("learning_rate", learning_rate)])
    with tf.name_scope("weights"):
        histograms = [tf.summary.histogram(w.op.name, w) for w in weights]  # tags weights/dense1/kernel, ...
    epoch_summaries = tf.summary.merge(
        histograms + [tf.summary.image("inputs", tf.reshape(images, [-1, 28, 28, 1]), max_outputs=4)])
    return dict(images=images, labels=labels, dropout_rate=dropout_rate, loss=loss, accuracy=accuracy,
                train_op=train_op, global_step=global_step, epoch=epoch, next_epoch=next_epoch,
                train_summaries=train_summaries, epoch_summaries=epoch_summaries)


# -- data ---------------------------------------------------------------------------------

def random_shift(batch, max_shift, rng):
    """Each image moved by up to ``max_shift`` pixels in x and y (zero fill)."""
    n, h, w = batch.shape
    s = max_shift
    padded = np.zeros((n, h + 2 * s, w + 2 * s), dtype=batch.dtype)
    padded[:, s:s + h, s:s + w] = batch
    dy = rng.randint(0, 2 * s + 1, size=n)
    dx = rng.randint(0, 2 * s + 1, size=n)
    rows = dy[:, None] + np.arange(h)[None, :]
    cols = dx[:, None] + np.arange(w)[None, :]
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def random_flip(batch, rng):
    """Each image mirrored left-right with probability 1/2."""
    flip = rng.randint(0, 2, size=len(batch)).astype(bool)
    out = batch.copy()
    out[flip] = batch[flip, :, ::-1]
    return out


def _postfix(loss, acc, held_out=None):
    """The progress bar's numbers, in this order (tqdm sorts keyword arguments)."""
    items = [("loss", "%.4f" % loss), ("acc", "%.2f%%" % (100 * acc))]
    if held_out is not None:
        items.append(("held-out acc", "%.2f%%" % (100 * held_out)))
    return collections.OrderedDict(items)


# -- run folders ---------------------------------------------------------------------------

_RUN_RE = re.compile(r"^run-(\d{8}-\d{6})(?:-(\d+))?$")


def new_run_dir(root):
    """Create and return ``root/run-YYYYmmdd-HHMMSS`` (``-2``, ``-3``, ... if taken)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in itertools.count(1):
        path = os.path.join(root, "run-" + stamp + ("" if n == 1 else "-%d" % n))
        try:
            os.makedirs(path)
            return path
        except FileExistsError:
            continue


def latest_run_dir(root):
    """The newest run folder in ``root``; ``root`` itself if it has none but holds
    checkpoints/ (a run folder passed directly, or the layout before run folders); else None."""
    runs = []
    if os.path.isdir(root):
        for name in os.listdir(root):
            m = _RUN_RE.match(name)
            if m and os.path.isdir(os.path.join(root, name)):
                runs.append((m.group(1), int(m.group(2) or 1), name))
    if runs:
        return os.path.join(root, max(runs)[2])
    if os.path.isdir(os.path.join(root, "checkpoints")):
        return root
    return None


class EpochBar:
    """An epoch's tqdm bar. The first Session.run of a new plan compiles its kernels,
    which takes far longer than a step: with ``compiling`` the bar says "compiling
    kernels…" until that first step is done, and rate and ETA count only the steps
    after it (instead of an ETA extrapolated from the compile)."""

    def __init__(self, total, desc, disable, compiling):
        self._kwargs = dict(total=total, desc=desc, unit="step", disable=disable, file=sys.stderr,
                            dynamic_ncols=True)
        self._bar = None
        self._waiting = None
        if compiling:
            self._waiting = tqdm(bar_format="{desc}: compiling kernels…", leave=False, **self._kwargs)
        else:
            self._bar = tqdm(leave=True, **self._kwargs)

    def update(self):
        """One step done."""
        if self._bar is None:
            self._waiting.close()
            self._bar = tqdm(initial=1, leave=True, **self._kwargs)
        else:
            self._bar.update(1)

    def set_postfix(self, *args, **kwargs):
        self._bar.set_postfix(*args, **kwargs)

    def close(self):
        self._bar.close()


def evaluate(sess, g, x, y, batch_size=1000):
    """(mean loss, accuracy) over a whole set."""
    total_loss = total_correct = 0.0
    for i in range(0, len(x), batch_size):
        xb, yb = x[i:i + batch_size], y[i:i + batch_size]
        loss, acc = sess.run([g["loss"], g["accuracy"]], {g["images"]: xb, g["labels"]: yb})
        total_loss += loss * len(xb)
        total_correct += acc * len(xb)
    return total_loss / len(x), total_correct / len(x)


def main(argv=None):
    args = parse_args(argv)
    data_dir = args.data_dir or os.environ.get(mnist.ENV_VAR)
    bundled = data_dir is None
    try:
        (x_train, y_train), (x_test, y_test) = mnist.load_data(data_dir)
    except (OSError, ValueError) as e:
        sys.exit("error: cannot load the data: %s" % e)
    if x_train.shape[1:] != (28, 28):
        sys.exit("expected 28x28 images, got %s" % (x_train.shape[1:],))
    if args.train_limit:
        x_train, y_train = x_train[:args.train_limit], y_train[:args.train_limit]
    y_train, y_test = y_train.astype(np.int64), y_test.astype(np.int64)
    held_out = ("%s held-out digits" % format(len(x_test), ",")) if bundled else \
        ("%s test images" % format(len(x_test), ","))
    steps_per_epoch = -(-len(x_train) // args.batch_size)
    print("nbflow %s | %s model | %d training images, %s | %d epochs of %d steps (batch %d)"
          % (tf.__version__, args.model, len(x_train), held_out, args.epochs, steps_per_epoch, args.batch_size))

    # The run folder: a new one, or with --resume the latest one that has a checkpoint.
    run_dir = latest = None
    if args.resume:
        run_dir = latest_run_dir(args.logdir)
        latest = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")) if run_dir else None
        if latest is None:
            print("--resume: no checkpoint in %s, starting a new run"
                  % (os.path.join(run_dir, "checkpoints") if run_dir else args.logdir))
    if latest is None:
        run_dir = new_run_dir(args.logdir)
    ckpt_dir = os.path.join(run_dir, "checkpoints")
    os.makedirs(ckpt_dir, exist_ok=True)
    print("run folder: %s" % run_dir)

    g = build_graph(args, steps_per_epoch)
    saver = tf.train.Saver(max_to_keep=3)

    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        if latest:
            saver.restore(sess, latest)
            saver.recover_last_checkpoints(tf.train.get_checkpoint_state(ckpt_dir).all_model_checkpoint_paths)
            print("resumed from %s (epoch %d, step %d)" % (latest, sess.run(g["epoch"]),
                                                          sess.run(g["global_step"])))
        start_epoch = int(sess.run(g["epoch"]))
        train_writer = eval_writer = None
        if start_epoch >= args.epochs:
            print("nothing left to train: this run has done %d epochs and --epochs is %d (pass a larger "
                  "--epochs to train on); evaluating only" % (start_epoch, args.epochs))
        else:
            train_writer = tf.summary.FileWriter(os.path.join(run_dir, "train"), sess.graph)
            eval_writer = tf.summary.FileWriter(os.path.join(run_dir, "eval"))
            if latest:
                # TensorBoard drops what an interrupted run logged past the checkpoint.
                restart = tf.summary.SessionLog(status=tf.summary.SessionLog.START)
                for w in (train_writer, eval_writer):
                    w.add_session_log(restart, int(sess.run(g["global_step"])) + 1)

        train_steps, train_images, train_time = 0, 0, 0.0
        test_acc = None
        for ep in range(start_epoch, args.epochs):
            rng = np.random.RandomState(args.seed * 100003 + ep)  # same order whether resumed or not
            order = rng.permutation(len(x_train))
            # (the first epoch of this process compiles the training step's kernels)
            bar = EpochBar(steps_per_epoch, "epoch %d/%d" % (ep + 1, args.epochs), args.no_progress,
                           compiling=ep == start_epoch)
            seen = loss_sum = correct_sum = 0.0
            t0 = time.time()
            for i in range(steps_per_epoch):
                idx = order[i * args.batch_size:(i + 1) * args.batch_size]
                xb, yb = x_train[idx], y_train[idx]
                if args.augment:
                    xb = random_shift(xb, args.augment, rng)
                if args.flip:
                    xb = random_flip(xb, rng)
                feed = {g["images"]: xb, g["labels"]: yb, g["dropout_rate"]: args.dropout}
                step = int(sess.run(g["global_step"])) if i == 0 else step + 1
                if step % args.log_every == 0:
                    _, loss, acc, summ = sess.run([g["train_op"], g["loss"], g["accuracy"], g["train_summaries"]],
                                                  feed)
                    train_writer.add_summary(summ, step)
                else:
                    _, loss, acc = sess.run([g["train_op"], g["loss"], g["accuracy"]], feed)
                seen += len(idx)
                loss_sum += loss * len(idx)
                correct_sum += acc * len(idx)
                bar.update()
                if i % 10 == 9 or i == steps_per_epoch - 1:
                    bar.set_postfix(_postfix(loss_sum / seen, correct_sum / seen), refresh=False)
            epoch_time = time.time() - t0
            train_time += epoch_time
            train_steps += steps_per_epoch
            train_images += len(x_train)
            step = int(sess.run(g["global_step"]))
            train_writer.add_summary(sess.run(g["epoch_summaries"], {g["images"]: x_train[order[:4]]}), step)
            test_loss, test_acc = evaluate(sess, g, x_test, y_test)
            eval_summary = tf.summary.Summary(value=[
                tf.summary.Summary.Value(tag="loss", simple_value=test_loss),
                tf.summary.Summary.Value(tag="accuracy", simple_value=test_acc)])
            eval_writer.add_summary(eval_summary, step)
            bar.set_postfix(_postfix(loss_sum / seen, correct_sum / seen, test_acc))
            bar.close()
            sess.run(g["next_epoch"])
            path = saver.save(sess, os.path.join(ckpt_dir, "model.ckpt"), global_step=step)
            train_writer.flush()
            eval_writer.flush()
            if args.no_progress:
                print("epoch %d/%d: train loss %.4f, train accuracy %.2f%%, held-out loss %.4f, accuracy %.2f%% "
                      "(%.1f steps/s; checkpoint %s)" % (ep + 1, args.epochs, loss_sum / seen, 100 * correct_sum / seen,
                                                         test_loss, 100 * test_acc, steps_per_epoch / epoch_time, path))
        if train_writer is not None:
            train_writer.close()
            eval_writer.close()
        if test_acc is None:  # resumed after the last epoch: just evaluate
            test_loss, test_acc = evaluate(sess, g, x_test, y_test)

    total = time.time() - _PROCESS_START
    print("final accuracy: %.2f%% on %s" % (100 * test_acc, held_out))
    if train_steps:
        print("trained %d steps in %.1f s: %.1f steps/s (%.0f images/s); total wall time %.1f s"
              % (train_steps, train_time, train_steps / train_time, train_images / train_time, total))
    print("TensorBoard: tensorboard --logdir %s" % args.logdir)
    return test_acc


if __name__ == "__main__":
    main()
