#!/usr/bin/env python
"""A small generative adversarial network (GAN) on MNIST.

The generator G turns 64 random numbers into a 784-pixel image (64-128-784);
the discriminator D says how likely an image is real (784-128-1). They take
turns: D learns to tell real digits from G's, G learns to fool D. Each has its
own Adam optimizer that only updates its own variables (var_list).

    python examples/gan.py           # 2,000 steps
    python examples/gan.py --fast    # 40 steps
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402

import numpy as np  # noqa: E402

import nbflow as tf  # noqa: E402
from nbflow.datasets import mnist  # noqa: E402

Z_DIM = 64


def dense(x, n_in, n_out, scope, activation=None):
    with tf.variable_scope(scope):
        w = tf.get_variable("weights", [n_in, n_out], initializer=tf.glorot_uniform_initializer())
        b = tf.get_variable("biases", [n_out], initializer=tf.zeros_initializer())
        z = tf.matmul(x, w) + b
        return activation(z) if activation is not None else z


def generator(z):
    with tf.variable_scope("generator"):
        h = dense(z, Z_DIM, 128, "hidden", tf.nn.relu)
        return dense(h, 128, 784, "image", tf.nn.sigmoid)


def discriminator(images, reuse):
    """The logit of "this image is real"; called twice, sharing its variables."""
    with tf.variable_scope("discriminator", reuse=reuse):
        h = dense(images, 784, 128, "hidden", tf.nn.relu)
        return dense(h, 128, 1, "logit")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=None, help="training steps (default 2000; 40 with --fast)")
    p.add_argument("--batch-size", type=int, default=64, help="real images (and fakes) per step")
    p.add_argument("--lr", type=float, default=2e-4, help="Adam's learning rate (both players)")
    p.add_argument("--print-every", type=int, default=None, help="print the losses every N steps")
    p.add_argument("--fast", action="store_true", help="a quick run: 40 steps")
    args = p.parse_args(argv)
    steps = args.steps or (40 if args.fast else 2000)
    print_every = args.print_every or (10 if args.fast else 200)

    (x_train, _), _ = mnist.load_data()
    x_train = x_train.reshape(-1, 784).astype(np.float32) / 255.0

    tf.set_random_seed(0)
    real = tf.placeholder(tf.float32, [None, 784], name="real")
    z = tf.placeholder(tf.float32, [None, Z_DIM], name="z")
    fake = generator(z)
    d_real = discriminator(real, reuse=False)
    d_fake = discriminator(fake, reuse=True)

    # D wants d_real -> 1 and d_fake -> 0; G wants d_fake -> 1.
    d_loss = (tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(d_real), logits=d_real))
              + tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.zeros_like(d_fake), logits=d_fake)))
    g_loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(d_fake), logits=d_fake))

    g_vars = tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, scope="generator")
    d_vars = tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, scope="discriminator")
    d_train = tf.train.AdamOptimizer(args.lr, beta1=0.5).minimize(d_loss, var_list=d_vars)
    g_train = tf.train.AdamOptimizer(args.lr, beta1=0.5).minimize(g_loss, var_list=g_vars)
    print("generator variables: %s" % ", ".join(v.op.name for v in g_vars))
    print("discriminator variables: %s" % ", ".join(v.op.name for v in d_vars))

    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(1, steps + 1):
            batch = x_train[rng.randint(0, len(x_train), args.batch_size)]
            noise = rng.uniform(-1.0, 1.0, (args.batch_size, Z_DIM)).astype(np.float32)
            _, dl = sess.run([d_train, d_loss], {real: batch, z: noise})
            noise = rng.uniform(-1.0, 1.0, (args.batch_size, Z_DIM)).astype(np.float32)
            _, gl = sess.run([g_train, g_loss], {z: noise})
            if step % print_every == 0 or step == steps:
                print("step %5d: d_loss %.4f  g_loss %.4f" % (step, dl, gl))
        samples = sess.run(fake, {z: rng.uniform(-1.0, 1.0, (16, Z_DIM)).astype(np.float32)})
    print("generated %d samples, mean pixel %.3f (real digits: %.3f)" % (len(samples), samples.mean(), x_train.mean()))
    print("final d_loss %.4f g_loss %.4f" % (dl, gl))
    return dl, gl


if __name__ == "__main__":
    main()
