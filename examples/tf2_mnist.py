#!/usr/bin/env python
"""Train the TF 2 course deck's tf.Module MLP on MNIST digits, eagerly, with nbflow.

    python examples/tf2_mnist.py               # 784-512-512-10 on the bundled digits
    python examples/tf2_mnist.py --epochs 5    # other settings
    python examples/tf2_mnist.py --no-function # every op eagerly (slower), no tf.function

The deck's ``Dense`` and ``MLP`` modules (tf.Module, tf.Variable, name scopes),
a training step that runs the model under a ``tf.GradientTape``, takes
``tape.gradient(loss, model.trainable_variables)`` and calls
``optimizer.apply_gradients(zip(grads, vars))`` -- compiled once with
``@tf.function`` -- and Adam with a learning rate decayed every epoch
(``tf.keras.optimizers.schedules.ExponentialDecay``). Trains on the 8,000 bundled training digits and
reports accuracy on the 2,000 held-out ones after every epoch (training images
shifted at random by up to 2 pixels, as examples/mnist.py does). (``Dense`` takes
an ``activation`` so the last layer can output logits; the deck's applies ReLU
everywhere. Weights start at He-scaled normals, not the deck's unit normals.)
"""
import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see examples/mnist.py: one BLAS thread is fastest here

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

import nbflow as tf  # noqa: E402
from nbflow.datasets import mnist  # noqa: E402

MEAN, STD = 0.1307, 0.3081  # MNIST pixel statistics (of x / 255)


class Dense(tf.Module):
    def __init__(self, in_features, out_features, activation=tf.nn.relu, name=None):
        super(Dense, self).__init__(name=name)
        with self.name_scope:
            self.w = tf.Variable(tf.random.normal([in_features, out_features], stddev=np.sqrt(2.0 / in_features)),
                                 name="w")
            self.b = tf.Variable(tf.zeros([out_features]), name="b")
        self.activation = activation

    def __call__(self, x):
        y = tf.matmul(x, self.w) + self.b
        return self.activation(y) if self.activation is not None else y


class MLP(tf.Module):
    def __init__(self, input_size, sizes, name=None):
        super(MLP, self).__init__(name=name)
        self.layers = []
        with self.name_scope:
            for i, size in enumerate(sizes):
                last = i == len(sizes) - 1
                self.layers.append(Dense(input_size, size, activation=None if last else tf.nn.relu))
                input_size = size

    @tf.Module.with_name_scope
    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def shifted(images, max_shift, rng):
    """Each 28x28 image moved by up to ``max_shift`` pixels each way (zero-padded, in the normalized scale)."""
    if not max_shift:
        return images
    n = len(images)
    pad = max_shift
    background = np.float32(-MEAN / STD)
    padded = np.full((n, 28 + 2 * pad, 28 + 2 * pad), background, np.float32)
    padded[:, pad:pad + 28, pad:pad + 28] = images.reshape(n, 28, 28)
    dy, dx = rng.integers(0, 2 * pad + 1, size=(2, n))
    rows = dy[:, None] + np.arange(28)[None, :]
    cols = dx[:, None] + np.arange(28)[None, :]
    out = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    return out.reshape(n, 784)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's initial learning rate")
    p.add_argument("--lr-decay", type=float, default=0.85, help="learning rate factor per epoch")
    p.add_argument("--hidden", type=int, default=512, help="units in each of the two hidden layers")
    p.add_argument("--augment", type=int, default=2,
                   help="shift training images randomly by up to this many pixels (0: off)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None, help="MNIST-format IDX files (default: the bundled digits)")
    p.add_argument("--no-function", action="store_true", help="run the step eagerly, op by op")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    tf.enable_eager_execution()
    tf.random.set_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(args.data_dir)
    x_train = ((x_train.reshape(-1, 784) / 255.0 - MEAN) / STD).astype(np.float32)
    x_test = ((x_test.reshape(-1, 784) / 255.0 - MEAN) / STD).astype(np.float32)
    y_train, y_test = y_train.astype(np.int64), y_test.astype(np.int64)

    model = MLP(784, [args.hidden, args.hidden, 10], name="mlp")
    steps_per_epoch = len(x_train) // args.batch_size
    schedule = tf.keras.optimizers.schedules.ExponentialDecay(
        args.lr, decay_steps=steps_per_epoch, decay_rate=args.lr_decay, staircase=True)
    optimizer = tf.keras.optimizers.Adam(learning_rate=schedule)
    print("variables:", ", ".join(v.name for v in model.trainable_variables))

    def train_step(inputs, target):
        with tf.GradientTape() as tape:
            predictions = model(inputs)
            loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
                target, predictions, from_logits=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    def predict(inputs):
        return tf.argmax(model(inputs), axis=1)

    if not args.no_function:
        train_step, predict = tf.function(train_step), tf.function(predict)

    rng = np.random.default_rng(args.seed)
    n = len(x_train) - len(x_train) % args.batch_size  # full batches: one compiled step
    start = time.time()
    accuracy = 0.0
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(x_train))[:n].reshape(-1, args.batch_size)
        bar = tqdm(order, desc="epoch %d/%d" % (epoch, args.epochs), unit="step", leave=True)
        total = 0.0
        for k, idx in enumerate(bar, 1):
            loss = train_step(tf.constant(shifted(x_train[idx], args.augment, rng)), tf.constant(y_train[idx]))
            total += float(loss)
            if k % 10 == 0 or k == len(order):
                bar.set_postfix(loss="%.4f" % (total / k))
        correct = 0
        for i in range(0, len(x_test), 500):
            correct += int(np.sum(predict(tf.constant(x_test[i:i + 500])).numpy() == y_test[i:i + 500]))
        accuracy = correct / len(x_test)
        bar.write("epoch %d: loss %.4f, held-out accuracy %.2f%% (%d of %d)"
                  % (epoch, total / len(order), 100 * accuracy, correct, len(x_test)))
    print("trained %d epochs in %.1f s; final held-out accuracy %.2f%%"
          % (args.epochs, time.time() - start, 100 * accuracy))
    return accuracy


if __name__ == "__main__":
    main()
