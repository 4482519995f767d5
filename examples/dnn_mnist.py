#!/usr/bin/env python
"""A deep neural network on MNIST: 784-256-128-10 with ReLU, built with tf.get_variable
inside tf.variable_scope, trained with Adam.

    python examples/dnn_mnist.py          # 5 epochs over the 8,000 bundled digits
    python examples/dnn_mnist.py --fast   # 60 steps
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402

import numpy as np  # noqa: E402

import nbflow as tf  # noqa: E402
from nbflow.datasets import mnist  # noqa: E402


def load_mnist():
    """Images scaled to [0, 1] and flattened to 784 floats, labels as int64."""
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    x_train = x_train.reshape(-1, 784).astype(np.float32) / 255.0
    x_test = x_test.reshape(-1, 784).astype(np.float32) / 255.0
    return (x_train, y_train.astype(np.int64)), (x_test, y_test.astype(np.int64))


def dense(x, n_out, scope, activation=None):
    """A fully connected layer; its variables are <scope>/weights and <scope>/biases."""
    with tf.variable_scope(scope):
        n_in = x.get_shape().as_list()[1]
        w = tf.get_variable("weights", [n_in, n_out], initializer=tf.glorot_uniform_initializer())
        b = tf.get_variable("biases", [n_out], initializer=tf.zeros_initializer())
        z = tf.matmul(x, w) + b
        return activation(z) if activation is not None else z


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=5, help="passes over the training set")
    p.add_argument("--batch-size", type=int, default=100, help="mini-batch size")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate")
    p.add_argument("--fast", action="store_true", help="a quick run: 60 steps")
    args = p.parse_args(argv)

    (x_train, y_train), (x_test, y_test) = load_mnist()
    steps_per_epoch = len(x_train) // args.batch_size
    total_steps = 60 if args.fast else args.epochs * steps_per_epoch

    tf.set_random_seed(0)
    x = tf.placeholder(tf.float32, [None, 784], name="x")
    y = tf.placeholder(tf.int64, [None], name="y")
    with tf.variable_scope("dnn"):
        h1 = dense(x, 256, "hidden1", tf.nn.relu)
        h2 = dense(h1, 128, "hidden2", tf.nn.relu)
        logits = dense(h2, 10, "output")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    train_op = tf.train.AdamOptimizer(args.lr).minimize(loss)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.float32))
    print("trainable variables:", ", ".join("%s %s" % (v.name, v.shape) for v in tf.trainable_variables()))

    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(total_steps):
            if step % steps_per_epoch == 0:
                order = rng.permutation(len(x_train))
            i = step % steps_per_epoch
            idx = order[i * args.batch_size:(i + 1) * args.batch_size]
            _, batch_loss = sess.run([train_op, loss], {x: x_train[idx], y: y_train[idx]})
            if step % 20 == 0 or step == total_steps - 1:
                print("step %4d: batch loss %.4f" % (step, batch_loss))
        test_loss, acc = sess.run([loss, accuracy], {x: x_test, y: y_test})
    print("held-out loss %.4f" % test_loss)
    print("accuracy %.4f" % acc)
    return acc


if __name__ == "__main__":
    main()
