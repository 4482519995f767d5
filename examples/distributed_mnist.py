#!/usr/bin/env python
"""Distributed MNIST over MPI, in TF 1's two modes (docs/DISTRIBUTED.md).

    mpiexec -n 4 python -m mpi4py examples/distributed_mnist.py --ps 2 --workers 2
    mpiexec -n 2 python -m mpi4py examples/distributed_mnist.py --mode allreduce
    python examples/distributed_mnist.py --restore /tmp/ckpt/model   # a checkpoint of the chief, 1 process

``--ps P --workers W`` (mode ps): between-graph replication with parameter
servers, the layout of the course deck: the variables under
``tf.device("/job:ps/task:k")`` (layer k on ps task k mod P; or
``--placement setter``: ``tf.train.replica_device_setter``), the model under
``tf.device("/job:worker/task:i")``, a ``tf.Session(server.target)`` per
worker. Ranks 0..P-1 are the ps tasks (``server.join()``), ranks P..P+W-1 the
workers; each worker trains asynchronously (``--sync``: in lockstep, by
``tf.train.SyncReplicasOptimizer``) on its shard of the training set until
the shared global step reaches ``--steps``; worker 0 (the chief)
initializes the variables, the others wait for them; the chief prints the
held-out accuracy once every worker has finished and, with ``--checkpoint``,
saves the ps variables.

``--mode allreduce``: every rank draws the same global batch of
``--batch-size`` x ranks indices (one shared seed) and trains on its own
contiguous share of it, gradients averaged by
nbflow.distribute.DistributedOptimizer, so N ranks take the steps one process
takes with the whole global batch. Rank 0 prints the losses and the held-out
accuracy.
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


def shift_images(xb, rng, max_shift):
    """Each 28x28 image of the batch moved by up to ``max_shift`` pixels each way (zeros
    come in): an MLP on the 8,000 bundled digits stalls near 95% held-out without it."""
    if not max_shift:
        return xb
    n = len(xb)
    padded = np.pad(xb.reshape(n, 28, 28), ((0, 0), (max_shift, max_shift), (max_shift, max_shift)))
    rows = rng.randint(0, 2 * max_shift + 1, n)[:, None] + np.arange(28)
    cols = rng.randint(0, 2 * max_shift + 1, n)[:, None] + np.arange(28)
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]].reshape(n, 784)


def _null_scope():
    return tf.device("")


def build_mlp(hidden, seed, layer_device=None, model_device=None, layers=1):
    """784-hidden(-hidden...)-10 MLP with ``layers`` hidden layers; returns (x, y, loss,
    accuracy, variables). Same initial values on every rank anyway (graph seed), but rank 0's
    are broadcast as a real program must. ``layer_device(k)``: the device of layer k's
    variables (w{k+1}, b{k+1}); ``model_device``: the rest's."""
    tf.set_random_seed(seed)
    sizes = [784] + [hidden] * layers + [10]
    variables = []
    for k in range(len(sizes) - 1):
        with tf.device(layer_device(k)) if layer_device else _null_scope():
            variables.append(tf.get_variable("w%d" % (k + 1), [sizes[k], sizes[k + 1]],
                                             initializer=tf.glorot_uniform_initializer()))
            variables.append(tf.get_variable("b%d" % (k + 1), [sizes[k + 1]], initializer=tf.zeros_initializer()))
    with tf.device(model_device) if model_device else _null_scope():
        x = tf.placeholder(tf.float32, [None, 784], name="x")
        y = tf.placeholder(tf.int64, [None], name="y")
        h = x
        for k in range(0, len(variables) - 2, 2):
            h = tf.nn.relu(tf.matmul(h, variables[k]) + variables[k + 1])
        logits = tf.matmul(h, variables[-2]) + variables[-1]
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.float32))
    return x, y, loss, accuracy, variables


def make_optimizer(name, lr):
    if name == "sgd":
        return tf.train.GradientDescentOptimizer(lr)
    return tf.train.AdamOptimizer(lr)


def train_allreduce(args):
    rank, size = nd.rank(), nd.size()
    (x_train, y_train), (x_test, y_test) = load_mnist()
    x, y, loss, accuracy, variables = build_mlp(args.hidden, args.seed, layers=args.layers)
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


def ps_cluster(ps, workers):
    """ps tasks at ports 2222.., workers after them: the addresses are names only (MPI
    connects the ranks); ranks 0..ps-1 are the ps tasks, then the workers."""
    return tf.train.ClusterSpec({"ps": ["localhost:%d" % (2222 + i) for i in range(ps)],
                                 "worker": ["localhost:%d" % (2222 + ps + i) for i in range(workers)]})


def ps_optimizer(args):
    """The optimizer; with --sync, TF's SyncReplicasOptimizer over every worker."""
    opt = make_optimizer(args.optimizer, args.lr)
    if args.sync:
        opt = tf.train.SyncReplicasOptimizer(opt, replicas_to_aggregate=args.workers, total_num_replicas=args.workers)
    return opt


def train_ps(args):
    cluster = ps_cluster(args.ps, args.workers)
    job, task = tf.train.task_for_rank(cluster)
    server = tf.train.Server(cluster, job_name=job, task_index=task)
    if job == "ps":
        server.join()  # serves the workers until each has exited
        return None
    (x_train, y_train), (x_test, y_test) = load_mnist()
    worker_device = "/job:worker/task:%d" % task
    if args.placement == "setter":
        with tf.device(tf.train.replica_device_setter(cluster=cluster, worker_device=worker_device)):
            x, y, loss, accuracy, variables = build_mlp(args.hidden, args.seed, layers=args.layers)
            global_step = tf.train.get_or_create_global_step()
            train_op = ps_optimizer(args).minimize(loss, global_step=global_step)
    else:  # the deck's layout: explicit devices
        x, y, loss, accuracy, variables = build_mlp(
            args.hidden, args.seed, layer_device=lambda k: "/job:ps/task:%d" % (k % args.ps),
            model_device=worker_device, layers=args.layers)
        with tf.device("/job:ps/task:0"):
            global_step = tf.train.get_or_create_global_step()
        with tf.device(worker_device):
            train_op = ps_optimizer(args).minimize(loss, global_step=global_step)
    is_chief = task == 0
    saver = tf.train.Saver() if args.checkpoint else None  # the model's variables, not the counter below
    with tf.device("/job:ps/task:0"):  # how many workers have finished (kept out of the checkpoint)
        finished = tf.Variable(0, name="workers_finished", trainable=False, collections=[])
        finish = finished.assign_add(1)
    ready = [tf.is_variable_initialized(v) for v in tf.global_variables() + [finished]]
    mine = nd.shard_indices(len(x_train), task, args.workers)  # this worker's shard
    rng = np.random.RandomState(args.seed + task)
    with tf.Session(server.target) as sess:
        if is_chief:
            sess.run([tf.global_variables_initializer(), finished.initializer])
        else:
            while not all(sess.run(ready)):  # the chief initializes (as MonitoredTrainingSession)
                time.sleep(0.05)
        start, my_steps, step = time.perf_counter(), 0, 0
        order, at = rng.permutation(mine), 0
        while step < args.steps:
            if at + args.batch_size > len(order):
                order, at = rng.permutation(mine), 0
            idx = order[at:at + args.batch_size]
            at += args.batch_size
            feed = {x: shift_images(x_train[idx], rng, args.shift), y: y_train[idx]}
            _, batch_loss, step = sess.run([train_op, loss, global_step], feed)
            step += 1  # the fetched value was read before this step's update
            my_steps += 1
            if is_chief and (my_steps % args.log_every == 0):
                print("global step %4d: loss %.4f (worker 0)" % (step, batch_loss), flush=True)
        elapsed = time.perf_counter() - start
        print("worker %d: %d steps, %.2f ms/step" % (task, my_steps, 1e3 * elapsed / max(my_steps, 1)), flush=True)
        sess.run(finish)
        if not is_chief:
            return None
        while sess.run(finished) < args.workers:  # the others' last updates land before we evaluate
            time.sleep(0.05)
        acc = sess.run(accuracy, {x: x_test, y: y_test})
        if saver is not None:
            print("saved", saver.save(sess, args.checkpoint), flush=True)
    print("accuracy %.4f" % acc, flush=True)
    return acc


def evaluate_checkpoint(args):
    """One process, no cluster: the chief's checkpoint restored into a local graph."""
    (_, _), (x_test, y_test) = load_mnist()
    x, y, loss, accuracy, variables = build_mlp(args.hidden, args.seed, layers=args.layers)
    tf.train.get_or_create_global_step()
    saver = tf.train.Saver()
    with tf.Session() as sess:
        saver.restore(sess, args.restore)
        acc = sess.run(accuracy, {x: x_test, y: y_test})
    print("restored accuracy %.4f" % acc, flush=True)
    return acc


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=["allreduce", "ps"], default=None,
                   help="allreduce: synchronous data parallelism; ps: parameter servers (the default "
                        "with --ps/--workers)")
    p.add_argument("--ps", type=int, default=0, help="parameter-server tasks (mode ps)")
    p.add_argument("--workers", type=int, default=0, help="worker tasks (mode ps)")
    p.add_argument("--placement", choices=["deck", "setter"], default="deck",
                   help="mode ps: explicit tf.device scopes (deck) or tf.train.replica_device_setter")
    p.add_argument("--shift", type=int, default=None,
                   help="mode ps: move training images by up to this many pixels (default 2)")
    p.add_argument("--sync", action="store_true",
                   help="mode ps: synchronous steps (tf.train.SyncReplicasOptimizer: each step averages one "
                        "gradient from every worker)")
    p.add_argument("--checkpoint", help="mode ps: the chief saves the variables here at the end")
    p.add_argument("--restore", help="evaluate this checkpoint in one process (no MPI) and exit")
    p.add_argument("--steps", type=int, default=None, help="training steps (default 300; mode ps: 1000 global steps)")
    p.add_argument("--batch-size", type=int, default=128, help="examples per rank per step")
    p.add_argument("--hidden", type=int, default=None, help="hidden units (default 256; 512 in mode ps)")
    p.add_argument("--layers", type=int, default=None, help="hidden layers (default 1; 2 in mode ps)")
    p.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--save-weights", help="rank 0 writes the final weights to this .npz")
    args = p.parse_args(argv)
    ps_mode = args.mode == "ps" or (args.mode is None and (args.ps or args.workers))
    if args.hidden is None:  # mode ps: the 784-512-512-10 MLP (95% held-out in about 6 epochs)
        args.hidden = 512 if ps_mode or args.restore else 256
    if args.layers is None:
        args.layers = 2 if ps_mode or args.restore else 1
    if args.shift is None:
        args.shift = 2 if ps_mode else 0
    if args.steps is None:
        args.steps = 1000 if ps_mode else 300
    if args.restore:
        return evaluate_checkpoint(args)
    mode = args.mode or ("ps" if args.ps or args.workers else "allreduce")
    if mode == "ps":
        if args.ps < 1 or args.workers < 1:
            sys.exit("distributed_mnist.py: mode ps needs --ps >= 1 and --workers >= 1")
        return train_ps(args)
    if args.ps or args.workers:
        sys.exit("distributed_mnist.py: --ps/--workers belong to mode ps, not --mode allreduce")
    return train_allreduce(args)


if __name__ == "__main__":
    main()
