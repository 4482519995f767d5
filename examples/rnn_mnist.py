#!/usr/bin/env python
"""Classify MNIST digits with an LSTM reading each image row by row (nbflow's TF 1.x API).

    python examples/rnn_mnist.py                  # LSTM on the bundled digits
    python examples/rnn_mnist.py --epochs 20      # other settings
    python examples/rnn_mnist.py --fast           # a quick smoke run

Each 28x28 image is a sequence of 28 time steps of 28 pixels. A
``tf.nn.rnn_cell.BasicLSTMCell`` (128 units) is unrolled over the rows with
``tf.nn.static_rnn``; its last output goes through a dense layer to 10 logits.
Trained with Adam on the 8,000 training digits bundled with nbflow (learning
rate decayed every epoch, shuffled mini-batches) and evaluated on the 2,000
held-out digits after every epoch. ``--data-dir`` points it at the full MNIST
or Fashion-MNIST (IDX files); nothing is downloaded.
"""
import os
import time

_PROCESS_START = time.time()  # before nbflow's import, so the total includes it

# One BLAS thread unless you say otherwise (see examples/mnist.py: on the 2-core machine a
# second OpenBLAS thread did not help at these sizes and hurt badly when the CPU was shared).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import collections  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

import nbflow as tf  # noqa: E402
from nbflow.datasets import mnist  # noqa: E402

MEAN, STD = 0.1307, 0.3081  # MNIST pixel statistics (of x / 255)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default 8; 2 with --fast)")
    p.add_argument("--batch-size", type=int, default=None, help="mini-batch size (default 64; 32 with --fast)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam's initial learning rate")
    p.add_argument("--lr-decay", type=float, default=0.8, help="learning rate factor applied after every epoch")
    p.add_argument("--hidden", type=int, default=None, help="LSTM units (default 128; 32 with --fast)")
    p.add_argument("--data-dir", default=None,
                   help="directory with MNIST-format IDX files (default: $NBFLOW_MNIST_DIR, else the bundled digits)")
    p.add_argument("--seed", type=int, default=0, help="seed for initialization and shuffling")
    p.add_argument("--fast", action="store_true",
                   help="a quick smoke run: 2 epochs, 32 units, 1,024 training images")
    p.add_argument("--train-limit", type=int, default=None, help="use only the first N training images")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    fast = args.fast
    if args.epochs is None:
        args.epochs = 2 if fast else 8
    if args.batch_size is None:
        args.batch_size = 32 if fast else 64
    if args.hidden is None:
        args.hidden = 32 if fast else 128
    if args.train_limit is None and fast:
        args.train_limit = 1024
    if args.epochs < 1 or args.batch_size < 1 or args.hidden < 1:
        p.error("--epochs, --batch-size and --hidden must be positive")
    if not args.lr > 0:
        p.error("--lr must be positive")
    return args


# -- the model --------------------------------------------------------------------------

def build_graph(args, steps_per_epoch, rows, cols):
    tf.set_random_seed(args.seed)
    images = tf.placeholder(tf.uint8, [None, rows, cols], name="images")
    labels = tf.placeholder(tf.int64, [None], name="labels")
    with tf.name_scope("normalize"):
        x = (tf.cast(images, tf.float32) / 255.0 - MEAN) / STD
    steps = tf.unstack(x, num=rows, axis=1)  # rows time steps of [batch, cols]
    cell = tf.nn.rnn_cell.BasicLSTMCell(args.hidden)
    outputs, _ = tf.nn.static_rnn(cell, steps, dtype=tf.float32)  # variables rnn/basic_lstm_cell/{kernel,bias}
    with tf.variable_scope("logits"):  # a dense layer on the last output
        w = tf.get_variable("kernel", [args.hidden, 10])
        b = tf.get_variable("bias", [10], initializer=tf.zeros_initializer())
        logits = tf.nn.bias_add(tf.matmul(outputs[-1], w), b)
    with tf.name_scope("cross_entropy"):
        loss = tf.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    with tf.name_scope("metrics"):
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), labels), tf.float32))
    global_step = tf.train.get_or_create_global_step()
    learning_rate = tf.train.exponential_decay(args.lr, global_step, steps_per_epoch, args.lr_decay,
                                               staircase=True)
    train_op = tf.train.AdamOptimizer(learning_rate).minimize(loss, global_step=global_step)
    return dict(images=images, labels=labels, loss=loss, accuracy=accuracy, train_op=train_op,
                global_step=global_step)


# -- training -----------------------------------------------------------------------------

def _postfix(loss, acc, held_out=None):
    items = [("loss", "%.4f" % loss), ("acc", "%.2f%%" % (100 * acc))]
    if held_out is not None:
        items.append(("held-out acc", "%.2f%%" % (100 * held_out)))
    return collections.OrderedDict(items)


def evaluate(sess, g, x, y, batch_size=500):
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
    if x_train.ndim != 3:
        sys.exit("expected images of shape [n, rows, cols], got %s" % (x_train.shape,))
    if args.train_limit:
        x_train, y_train = x_train[:args.train_limit], y_train[:args.train_limit]
    y_train, y_test = y_train.astype(np.int64), y_test.astype(np.int64)
    held_out = ("%s held-out digits" % format(len(x_test), ",")) if bundled else \
        ("%s test images" % format(len(x_test), ","))
    steps_per_epoch = -(-len(x_train) // args.batch_size)
    rows, cols = x_train.shape[1:]
    print("nbflow %s | LSTM(%d) over %d rows | %d training images, %s | %d epochs of %d steps (batch %d)"
          % (tf.__version__, args.hidden, rows, len(x_train), held_out, args.epochs, steps_per_epoch,
             args.batch_size))

    g = build_graph(args, steps_per_epoch, rows, cols)
    train_steps, train_time, test_acc = 0, 0.0, None
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for ep in range(args.epochs):
            rng = np.random.RandomState(args.seed * 100003 + ep)
            order = rng.permutation(len(x_train))
            bar = tqdm(total=steps_per_epoch, desc="epoch %d/%d" % (ep + 1, args.epochs), unit="step",
                       disable=args.no_progress, file=sys.stderr, dynamic_ncols=True, leave=True)
            seen = loss_sum = correct_sum = 0.0
            t0 = time.time()
            for i in range(steps_per_epoch):
                idx = order[i * args.batch_size:(i + 1) * args.batch_size]
                _, loss, acc = sess.run([g["train_op"], g["loss"], g["accuracy"]],
                                        {g["images"]: x_train[idx], g["labels"]: y_train[idx]})
                seen += len(idx)
                loss_sum += loss * len(idx)
                correct_sum += acc * len(idx)
                bar.update(1)
                if i % 10 == 9 or i == steps_per_epoch - 1:
                    bar.set_postfix(_postfix(loss_sum / seen, correct_sum / seen), refresh=False)
            epoch_time = time.time() - t0
            train_time += epoch_time
            train_steps += steps_per_epoch
            test_loss, test_acc = evaluate(sess, g, x_test, y_test)
            bar.set_postfix(_postfix(loss_sum / seen, correct_sum / seen, test_acc))
            bar.close()
            if args.no_progress:
                print("epoch %d/%d: train loss %.4f, train accuracy %.2f%%, held-out loss %.4f, accuracy %.2f%% "
                      "(%.1f steps/s)" % (ep + 1, args.epochs, loss_sum / seen, 100 * correct_sum / seen,
                                          test_loss, 100 * test_acc, steps_per_epoch / epoch_time))
    total = time.time() - _PROCESS_START
    print("final accuracy: %.2f%% on %s" % (100 * test_acc, held_out))
    print("trained %d steps in %.1f s: %.1f steps/s (%.0f images/s); total wall time %.1f s"
          % (train_steps, train_time, train_steps / train_time, train_steps * args.batch_size / train_time, total))
    return test_acc


if __name__ == "__main__":
    main()
