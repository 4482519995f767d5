#!/usr/bin/env python
"""A stacked auto-encoder on MNIST: 784-256-64-256-784, trained to reproduce its input.

The encoder squeezes each digit into 64 numbers, the decoder rebuilds the 784
pixels from them; the loss is the mean squared reconstruction error (Adam).

    python examples/autoencoder.py                    # 5 epochs
    python examples/autoencoder.py --fast             # 60 steps
    python examples/autoencoder.py --out recon.png    # where the picture goes (needs matplotlib)
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402

import numpy as np  # noqa: E402

import nbflow as tf  # noqa: E402
from nbflow.datasets import mnist  # noqa: E402


def load_images():
    """Training and held-out images, scaled to [0, 1] and flattened to 784 floats."""
    (x_train, _), (x_test, _) = mnist.load_data()
    return (x_train.reshape(-1, 784).astype(np.float32) / 255.0,
            x_test.reshape(-1, 784).astype(np.float32) / 255.0)


def dense(x, n_in, n_out, scope, activation):
    with tf.variable_scope(scope):
        w = tf.get_variable("weights", [n_in, n_out], initializer=tf.glorot_uniform_initializer())
        b = tf.get_variable("biases", [n_out], initializer=tf.zeros_initializer())
        return activation(tf.matmul(x, w) + b)


def save_grid(originals, reconstructions, path):
    """Originals on the top row, reconstructions below; skipped without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no picture saved")
        return
    n = len(originals)
    fig, axes = plt.subplots(2, n, figsize=(n, 2.2))
    for i in range(n):
        for row, images in enumerate([originals, reconstructions]):
            axes[row, i].imshow(images[i].reshape(28, 28), cmap="gray", vmin=0, vmax=1)
            axes[row, i].axis("off")
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    print("saved originals (top) and reconstructions (bottom) to %s" % path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=5, help="passes over the training set")
    p.add_argument("--batch-size", type=int, default=100, help="mini-batch size")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate")
    p.add_argument("--out", default="autoencoder.png", help="PNG of originals vs reconstructions")
    p.add_argument("--fast", action="store_true", help="a quick run: 60 steps")
    args = p.parse_args(argv)

    x_train, x_test = load_images()
    steps_per_epoch = len(x_train) // args.batch_size
    total_steps = 60 if args.fast else args.epochs * steps_per_epoch

    tf.set_random_seed(0)
    x = tf.placeholder(tf.float32, [None, 784], name="x")
    with tf.variable_scope("encoder"):
        h1 = dense(x, 784, 256, "hidden1", tf.nn.relu)
        code = dense(h1, 256, 64, "code", tf.nn.relu)
    with tf.variable_scope("decoder"):
        h3 = dense(code, 64, 256, "hidden3", tf.nn.relu)
        reconstruction = dense(h3, 256, 784, "output", tf.nn.sigmoid)
    loss = tf.reduce_mean(tf.square(reconstruction - x))
    train_op = tf.train.AdamOptimizer(args.lr).minimize(loss)

    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        start_loss = sess.run(loss, {x: x_test})
        print("reconstruction loss at start %.4f" % start_loss)
        for step in range(total_steps):
            if step % steps_per_epoch == 0:
                order = rng.permutation(len(x_train))
            i = step % steps_per_epoch
            _, batch_loss = sess.run([train_op, loss], {x: x_train[order[i * args.batch_size:(i + 1) * args.batch_size]]})
            if step % 20 == 0 or step == total_steps - 1:
                print("step %4d: batch loss %.4f" % (step, batch_loss))
        end_loss, recon = sess.run([loss, reconstruction], {x: x_test})
    print("reconstruction loss at end %.4f" % end_loss)
    save_grid(x_test[:10], recon[:10], args.out)
    return start_loss, end_loss


if __name__ == "__main__":
    main()
