"""A Keras CNN on the bundled MNIST digits: Sequential, summary, fit with validation
data and callbacks, evaluate (TF 2 style, eager).

    python examples/keras_mnist.py                  # 15 epochs, augmentation by random shifts: 98.80%
    python examples/keras_mnist.py --epochs 1 --train 2000 --no-augment   # a quick check

Conv2D 32 3x3 relu -> MaxPooling2D -> Conv2D 64 3x3 relu -> MaxPooling2D -> Flatten ->
Dense 128 relu -> Dropout 0.5 -> Dense 10 softmax, Adam, trained on the 8,000 bundled
training digits (``tf.keras.datasets.mnist.load_data()``) and measured on the 2,000
held-out ones. ``--augment`` (default) shifts each training image by up to 2 pixels
every epoch. Writes TensorBoard logs and the best weights (ModelCheckpoint) under
``--logdir``.
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import nbflow as tf  # noqa: E402

tf.enable_eager_execution()


def build_model():
    return tf.keras.Sequential([
        tf.keras.layers.Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)),
        tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Conv2D(64, 3, activation="relu"),
        tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(128, activation="relu"),
        tf.keras.layers.Dropout(0.5),
        tf.keras.layers.Dense(10, activation="softmax"),
    ], name="mnist_cnn")


def random_shifts(images, rng, max_shift=2):
    """Each image moved by up to ``max_shift`` pixels in x and y (zeros shifted in)."""
    n = len(images)
    padded = np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)))
    dx = rng.randint(0, 2 * max_shift + 1, n)
    dy = rng.randint(0, 2 * max_shift + 1, n)
    out = np.empty_like(images)
    for i in range(n):
        out[i] = padded[i, dy[i]:dy[i] + 28, dx[i]:dx[i] + 28]
    return out


class ShiftedEpochs(tf.keras.callbacks.Callback):
    """Re-draws the augmented training images at the start of every epoch (in place)."""

    def __init__(self, source, target, seed):
        super().__init__()
        self.source, self.target, self.rng = source, target, np.random.RandomState(seed)

    def on_epoch_begin(self, epoch, logs=None):
        self.target[...] = random_shifts(self.source, self.rng)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--train", type=int, default=None, help="use only the first N training digits")
    p.add_argument("--augment", dest="augment", action="store_true", default=True)
    p.add_argument("--no-augment", dest="augment", action="store_false")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--logdir", default=os.path.join(tempfile.gettempdir(), "keras_mnist"))
    p.add_argument("--verbose", type=int, default=1)
    args = p.parse_args(argv)

    tf.random.set_seed(args.seed)
    np.random.seed(args.seed)
    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
    if args.train:
        x_train, y_train = x_train[:args.train], y_train[:args.train]
    x_train = (x_train.astype(np.float32) / 255.0)[..., None]
    x_test = (x_test.astype(np.float32) / 255.0)[..., None]
    print("train %s, test %s" % (x_train.shape, x_test.shape))

    model = build_model()
    model.summary()
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    callbacks = [
        tf.keras.callbacks.TensorBoard(log_dir=os.path.join(args.logdir, "tb")),
        tf.keras.callbacks.ModelCheckpoint(os.path.join(args.logdir, "best"), monitor="val_accuracy",
                                           save_best_only=True, save_weights_only=True),
    ]
    fit_x = x_train
    if args.augment:
        fit_x = x_train.copy()
        callbacks.insert(0, ShiftedEpochs(x_train, fit_x, args.seed))
    start = time.time()
    model.fit(fit_x, y_train, batch_size=args.batch_size, epochs=args.epochs, validation_data=(x_test, y_test),
              callbacks=callbacks, verbose=args.verbose)
    elapsed = time.time() - start
    loss, acc = model.evaluate(x_test, y_test, batch_size=500, verbose=0)
    print("held-out: loss %.4f, accuracy %.2f%% (%d of %d), training took %.0f s"
          % (loss, 100 * acc, round(acc * len(x_test)), len(x_test), elapsed))
    return acc


if __name__ == "__main__":
    main()
