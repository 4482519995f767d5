#!/usr/bin/env python
"""A TF 1.x graph-mode MNIST MLP (784-128-10) fed by tf.data instead of feed_dict.

The training pipeline is from_tensor_slices -> shuffle -> map (normalize) -> batch
-> prefetch; one reinitializable iterator (Iterator.from_structure) serves the
training and the held-out datasets: running an initializer starts an epoch,
OutOfRangeError ends it.

    python examples/tf_data_pipeline.py          # 5 epochs over the 8,000 bundled digits
    python examples/tf_data_pipeline.py --fast   # 3 epochs
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import nbflow as tf  # noqa: E402


def normalize(image, label):
    """uint8 [28, 28] -> float32 [784] in [0, 1]; uint8 label -> int64 (traced once)."""
    return tf.reshape(tf.cast(image, tf.float32) / 255.0, [784]), tf.cast(label, tf.int64)


def datasets(batch_size, seed):
    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
    train = (tf.data.Dataset.from_tensor_slices((x_train, y_train))
             .shuffle(len(x_train), seed=seed)
             .map(normalize, num_parallel_calls=tf.data.experimental.AUTOTUNE)
             .batch(batch_size)
             .prefetch(1))
    test = tf.data.Dataset.from_tensor_slices((x_test, y_test)).map(normalize).batch(500)
    return train, test, len(x_test)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=5, help="passes over the training set")
    p.add_argument("--batch-size", type=int, default=64, help="mini-batch size")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam's learning rate")
    p.add_argument("--seed", type=int, default=0, help="graph seed (initializers, shuffle)")
    p.add_argument("--fast", action="store_true", help="a quick run: 3 epochs")
    args = p.parse_args(argv)
    epochs = 3 if args.fast else args.epochs

    tf.set_random_seed(args.seed)
    train, test, n_test = datasets(args.batch_size, args.seed)
    iterator = tf.data.Iterator.from_structure(train.output_types, train.output_shapes)
    train_init, test_init = iterator.make_initializer(train), iterator.make_initializer(test)
    images, labels = iterator.get_next()

    hidden = tf.layers.dense(images, 128, activation=tf.nn.relu, name="hidden")
    logits = tf.layers.dense(hidden, 10, name="logits")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    train_op = tf.train.AdamOptimizer(args.lr).minimize(loss)
    correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, 1), labels), tf.int32))

    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        accuracy = 0.0
        for epoch in range(1, epochs + 1):
            start, steps, total = time.time(), 0, 0.0
            sess.run(train_init)
            while True:
                try:
                    _, value = sess.run([train_op, loss])
                except tf.errors.OutOfRangeError:
                    break
                steps += 1
                total += value
            sess.run(test_init)
            right = 0
            while True:
                try:
                    right += sess.run(correct)
                except tf.errors.OutOfRangeError:
                    break
            accuracy = 100.0 * right / n_test
            print("epoch %d/%d: %d steps, mean loss %.4f, held-out accuracy %.2f%% (%.1f s)"
                  % (epoch, epochs, steps, total / max(steps, 1), accuracy, time.time() - start), flush=True)
    print("final accuracy: %.2f%% on %s held-out digits" % (accuracy, format(n_test, ",")))
    return accuracy


if __name__ == "__main__":
    main()
