#!/usr/bin/env python
"""Logistic regression (two classes) on two Gaussian blobs, with plain gradient descent.

    python examples/logistic_regression.py          # 500 steps
    python examples/logistic_regression.py --fast   # 50 steps
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402

import numpy as np  # noqa: E402

import nbflow as tf  # noqa: E402


def make_blobs(n_per_class, rng):
    """Two 2-D Gaussian blobs: class 0 around (-1.5, -1), class 1 around (+1.5, +1)."""
    x0 = rng.randn(n_per_class, 2) + [-1.5, -1.0]
    x1 = rng.randn(n_per_class, 2) + [1.5, 1.0]
    x = np.concatenate([x0, x1]).astype(np.float32)
    y = np.concatenate([np.zeros(n_per_class), np.ones(n_per_class)]).astype(np.float32)[:, None]
    order = rng.permutation(len(x))
    return x[order], y[order]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=None, help="gradient descent steps (default 500; 50 with --fast)")
    p.add_argument("--lr", type=float, default=0.1, help="learning rate")
    p.add_argument("--fast", action="store_true", help="a quick run with few steps")
    args = p.parse_args(argv)
    steps = args.steps or (50 if args.fast else 500)

    rng = np.random.RandomState(0)
    x_train, y_train = make_blobs(500, rng)
    x_test, y_test = make_blobs(200, rng)

    # The model: p(y=1 | x) = sigmoid(x W + b)
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    y = tf.placeholder(tf.float32, [None, 1], name="y")
    W = tf.Variable(tf.zeros([2, 1]), name="W")
    b = tf.Variable(tf.zeros([1]), name="b")
    logits = tf.matmul(x, W) + b
    loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
    train_op = tf.train.GradientDescentOptimizer(args.lr).minimize(loss)
    predictions = tf.cast(tf.greater(logits, 0.0), tf.float32)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(predictions, y), tf.float32))

    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(steps + 1):
            if step % max(1, steps // 5) == 0:
                print("step %4d: loss %.4f" % (step, sess.run(loss, {x: x_train, y: y_train})))
            if step < steps:
                sess.run(train_op, {x: x_train, y: y_train})
        final_loss = sess.run(loss, {x: x_train, y: y_train})
        acc = sess.run(accuracy, {x: x_test, y: y_test})
        w_val, b_val = sess.run([W, b])
    print("W = %s, b = %s" % (w_val.ravel(), b_val))
    print("final loss %.4f" % final_loss)
    print("accuracy %.4f" % acc)
    return acc


if __name__ == "__main__":
    main()
