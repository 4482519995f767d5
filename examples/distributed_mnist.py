#!/usr/bin/env python
"""Data-parallel MNIST over MPI: an MLP trained on every rank's shard of each
global batch, gradients averaged with nbflow.distribute.DistributedOptimizer,
initial weights broadcast from rank 0 (docs/DISTRIBUTED.md).

    mpiexec -n 2 python -m mpi4py examples/distributed_mnist.py --mode allreduce
    python examples/distributed_mnist.py --mode allreduce      # one process, same program

Each step every rank draws the same global batch of ``--batch-size`` x ranks
indices (one shared seed) and trains on its own contiguous share of it, so N
ranks take the steps one process takes with the whole global batch. Rank 0
prints the losses and the held-out accuracy. (``--ps/--workers``, between-graph
replication with parameter servers, is not there yet: see docs/DISTRIBUTED.md.)
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import nbflow as tf  # noqa: E402
import nbflow.distribute as nd  # noqa: E402
from nbflow.datasets import mnist  # noqa: E402


def load_mnist():
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    return ((x_train.reshape(-1, 784).astype(np.float32) / 255.0, y_train.astype(np.int64)),
            (x_test.reshape(-1, 784).astype(np.float32) / 255.0, y_test.astype(np.int64)))


def build_mlp(hidden, seed):
    """784-hidden-10 MLP; returns (x, y, loss, accuracy, variables). Same initial values on
    every rank anyway (graph seed), but rank 0's are broadcast as a real program must."""
    tf.set_random_seed(seed)
    x = tf.placeholder(tf.float32, [None, 784], name="x")
    y = tf.placeholder(tf.int64, [None], name="y")
    w1 = tf.get_variable("w1", [784, hidden], initializer=tf.glorot_uniform_initializer())
    b1 = tf.get_variable("b1", [hidden], initializer=tf.zeros_initializer())
    w2 = tf.get_variable("w2", [hidden, 10], initializer=tf.glorot_uniform_initializer())
    b2 = tf.get_variable("b2", [10], initializer=tf.zeros_initializer())
    logits = tf.matmul(tf.nn.relu(tf.matmul(x, w1) + b1), w2) + b2
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.float32))
    return x, y, loss, accuracy, [w1, b1, w2, b2]


def make_optimizer(name, lr):
    if name == "sgd":
        return tf.train.GradientDescentOptimizer(lr)
    return tf.train.AdamOptimizer(lr)


def train_allreduce(args):
    rank, size = nd.rank(), nd.size()
    (x_train, y_train), (x_test, y_test) = load_mnist()
    x, y, loss, accuracy, variables = build_mlp(args.hidden, args.seed)
    opt = nd.DistributedOptimizer(make_optimizer(args.optimizer, args.lr))
    train_op = opt.minimize(loss)
    global_batch = args.batch_size * size
    steps_per_epoch = len(x_train) // global_batch
    mine = nd.shard_indices(global_batch, rank, size)  # my share of each global batch
    rng = np.random.RandomState(args.seed)  # the same draws on every rank
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(nd.broadcast_variables(tf.global_variables(), root=0))
        start = None
        for step in range(args.steps):
            if step == 1:
                start = time.perf_counter()  # step 0 compiles
            if step % steps_per_epoch == 0:
                order = rng.permutation(len(x_train))
            i = step % steps_per_epoch
            idx = order[i * global_batch:(i + 1) * global_batch][mine]
            _, batch_loss = sess.run([train_op, loss], {x: x_train[idx], y: y_train[idx]})
            if rank == 0 and (step % args.log_every == 0 or step == args.steps - 1):
                print("step %4d: loss %.4f (rank 0's shard)" % (step, batch_loss), flush=True)
        elapsed = time.perf_counter() - start if start is not None else float("nan")
        weights = sess.run(variables)
        acc = sess.run(accuracy, {x: x_test, y: y_test}) if rank == 0 else None
    if rank == 0:
        rate = (args.steps - 1) * global_batch / elapsed
        print("ranks %d, global batch %d: %.0f samples/s" % (size, global_batch, rate))
        print("accuracy %.4f" % acc, flush=True)
        if args.save_weights:
            np.savez(args.save_weights, **{"w%d" % i: w for i, w in enumerate(weights)})
    return acc


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=["allreduce"], default="allreduce",
                   help="allreduce: synchronous data parallelism (the only mode so far)")
    p.add_argument("--ps", type=int, default=0, help="parameter-server tasks (not implemented yet)")
    p.add_argument("--workers", type=int, default=0, help="worker tasks (not implemented yet)")
    p.add_argument("--steps", type=int, default=300, help="training steps")
    p.add_argument("--batch-size", type=int, default=128, help="examples per rank per step")
    p.add_argument("--hidden", type=int, default=256, help="hidden units")
    p.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--save-weights", help="rank 0 writes the final weights to this .npz")
    args = p.parse_args(argv)
    if args.ps or args.workers:
        sys.exit("distributed_mnist.py: --ps/--workers (parameter servers) is not implemented yet; "
                 "use --mode allreduce (docs/DISTRIBUTED.md)")
    return train_allreduce(args)


if __name__ == "__main__":
    main()
