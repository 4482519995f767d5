"""Distributed benchmarks (issue 13): MPI jobs, so a standalone script, not a
harness family (the harness times implementations inside one process).

    python -m benchmarks.distributed [--quick] [--json out.json]

launches, with ``mpiexec`` (beside the Python, else on PATH; nbflow[mpi]):

* ``allreduce/10M``: 2 ranks, a 10M float32 buffer. ``mpi4py`` is a bare
  ``comm.Allreduce(MPI.IN_PLACE, buf, MPI.SUM)``; ``nbflow-sum`` a
  ``Session.run`` of ``nd.allreduce(v, average=False)`` on a variable (the op
  is fetched, not its 40 MB value); ``nbflow-avg-bucket4`` the optimizer's
  case: the variable's four 2.5M quarters averaged by one fused
  ``MpiAllreduceBucket`` (packing pass with the 1/size scale, one Allreduce).
  ``mpi4py-chunked`` is the bare call in the messages nbflow sends (at most
  ``MESSAGE_BYTES`` of nbflow/backends/cpu/mpi.py each), the floor of the
  same message pattern without nbflow's packing pass. The two mpi4py cases also run
  alone in a job of their own (``--worker allreduce-bare``), alternated with the full job:
  with mpich 5.0.2 the whole-buffer call ran about 3x faster in a process that had also
  run nbflow's non-blocking calls. Rounds interleave them; each batch starts after a Barrier and counts
  the slowest rank; median per call over the rounds. Target: nbflow >= 0.9x
  mpi4py's calls/s.
* ``mlp/b128``: the ``mlp`` family's 784-512-512-10 ReLU MLP, SGD lr 0.01, 128
  examples per rank per step from 8 pre-generated batches, one BLAS/Numba
  thread per rank: 1 rank (the plain optimizer, no MPI op) vs 2 ranks
  (DistributedOptimizer). Target: 2 ranks >= 1.6x the samples/s of 1 rank.
* ``mlp-ps/b128``: the same MLP in the ps mode, 3 ranks: one ps task holding
  the variables (replica_device_setter) and 2 workers updating them
  asynchronously; the step time is the slowest worker's, samples/s counts both
  workers (no target: reported beside the all-reduce mode).
* ``mlp-ps2-adam/b128``: the example's layout: 2 ps tasks (variables round
  robin), 2 workers, Adam with a global step (4 requests a step per worker).

A worker is this file run under ``mpiexec -n N python -m mpi4py`` with
``--worker allreduce|mlp|mlp-ps``; rank 0 (mlp-ps: worker 0, rank 1) prints one ``RESULT {json}`` line.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THREADS = {"OPENBLAS_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


# -- workers (run under mpiexec) ---------------------------------------------------------------

def _timed_batches(comm, fns, calls, rounds):
    """Median seconds per call of each fn; a batch is ``calls`` calls after a Barrier, timed
    on the slowest rank; rounds interleave the fns."""
    from mpi4py import MPI
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            comm.Barrier()
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            dt = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
            times[name].append(dt / calls)
    return {name: statistics.median(ts) for name, ts in times.items()}


def worker_allreduce(quick, bare=False):
    """``bare``: only the two mpi4py cases, in a job with no nbflow MPI op (with mpich 5.0.2
    the whole-buffer blocking Allreduce ran about 3x faster in a process that had also run
    the optimizer's non-blocking Iallreduce calls: docs/DISTRIBUTED.md)."""
    import numpy as np
    from mpi4py import MPI

    from nbflow.backends.cpu.mpi import _message_elements
    comm = MPI.COMM_WORLD
    n = 1_000_000 if quick else 10_000_000
    buf = np.ones(n, np.float32)
    step = _message_elements(4)
    chunks = [buf[i:i + step] for i in range(0, n, step)]

    def chunked():
        for c in chunks:
            comm.Allreduce(MPI.IN_PLACE, c, MPI.SUM)
    fns = {"mpi4py": lambda: comm.Allreduce(MPI.IN_PLACE, buf, MPI.SUM),
           "mpi4py-chunked": chunked}
    if not bare:
        import nbflow as tf
        import nbflow.distribute as nd
        v = tf.Variable(np.ones(n, np.float32))
        total = nd.allreduce(v, average=False).op
        quarters = tf.split(tf.convert_to_tensor(v), 4)
        bucket = nd.allreduce_gradients([(q, None) for q in quarters])[0][0].op
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
        fns.update({"nbflow-sum": lambda: sess.run(total), "nbflow-avg-bucket4": lambda: sess.run(bucket)})
    for fn in fns.values():  # warm up: plans, kernels
        fn()
    per_call = _timed_batches(comm, fns, calls=3 if quick else 10, rounds=3 if quick else 7)
    return {"case": "allreduce/%dM" % (n // 1_000_000), "ranks": comm.Get_size(),
            "ms_per_call": {k: v * 1e3 for k, v in per_call.items()},
            "vs_mpi4py": {k: per_call["mpi4py"] / v for k, v in per_call.items()}}


def _mlp(sizes, batch, rank):
    """The 784-512-512-10 MLP's (x, y, loss) and 8 pre-generated feeds."""
    import numpy as np

    import nbflow as tf
    rng = np.random.default_rng(rank)
    xs = [rng.standard_normal((batch, 784)).astype(np.float32) for _ in range(8)]
    ys = [rng.integers(0, 10, batch).astype(np.int64) for _ in range(8)]
    tf.set_random_seed(0)
    x = tf.placeholder(tf.float32, [batch, 784])
    y = tf.placeholder(tf.int64, [batch])
    h = x
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = tf.get_variable("w%d" % i, [a, b], initializer=tf.glorot_uniform_initializer())
        bias = tf.get_variable("b%d" % i, [b], initializer=tf.zeros_initializer())
        h = tf.matmul(h, w) + bias
        if i < len(sizes) - 2:
            h = tf.nn.relu(h)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=h))
    return x, y, loss, [{x: a, y: b} for a, b in zip(xs, ys)]


def _timed_steps(comm, sess, fetches, feeds, quick):
    step = [0]

    def one():
        sess.run(fetches, feeds[step[0] % 8])
        step[0] += 1
    for _ in range(5):
        one()
    return _timed_batches(comm, {"step": one}, calls=10 if quick else 50, rounds=3 if quick else 5)["step"]


def worker_mlp(quick, bucket_bytes):
    from mpi4py import MPI

    import nbflow as tf
    import nbflow.distribute as nd
    comm = MPI.COMM_WORLD
    size, rank = comm.Get_size(), comm.Get_rank()
    batch = 128
    x, y, loss, feeds = _mlp((784, 32, 32, 10) if quick else (784, 512, 512, 10), batch, rank)
    opt = tf.train.GradientDescentOptimizer(0.01)
    # bucket_bytes 0: no all-reduce at all (each rank trains alone): the compute-only ceiling
    train = (nd.DistributedOptimizer(opt, bucket_bytes=bucket_bytes) if size > 1 and bucket_bytes else opt).minimize(loss)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    if size > 1 and bucket_bytes:
        sess.run(nd.broadcast_variables(tf.global_variables()))
    per_step = _timed_steps(comm, sess, [train, loss], feeds, quick)
    return {"case": "mlp/b128", "ranks": size, "bucket_bytes": bucket_bytes, "ms_per_step": per_step * 1e3,
            "samples_per_s": size * batch / per_step}


def worker_mlp_ps(quick, ps_tasks=1, adam=False):
    """The same MLP in the ps mode: ``ps_tasks`` ps tasks (the first ranks) hold the variables
    (round robin), the other ranks are workers training asynchronously (replica_device_setter,
    tf.Session(server.target)); samples/s counts every worker. ``adam``: Adam with a global
    step (the example's layout) instead of plain SGD."""
    from mpi4py import MPI

    import nbflow as tf
    world = MPI.COMM_WORLD
    cluster = tf.train.ClusterSpec({"ps": ["ps%d:1" % i for i in range(ps_tasks)],
                                    "worker": ["w%d:1" % i for i in range(world.Get_size() - ps_tasks)]})
    job, task = tf.train.task_for_rank(cluster)
    server = tf.train.Server(cluster, job_name=job, task_index=task)
    comm = world.Split(0 if job == "worker" else 1, world.Get_rank())  # the workers time themselves
    if job == "ps":
        server.join()
        return None
    batch = 128
    with tf.device(tf.train.replica_device_setter(cluster=cluster, worker_device="/job:worker/task:%d" % task)):
        x, y, loss, feeds = _mlp((784, 32, 32, 10) if quick else (784, 512, 512, 10), batch, task)
        if adam:
            train = tf.train.AdamOptimizer(1e-3).minimize(loss, global_step=tf.train.get_or_create_global_step())
        else:
            train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    sess = tf.Session(server.target)
    if task == 0:
        sess.run(tf.global_variables_initializer())
    comm.Barrier()  # the chief has initialized
    per_step = _timed_steps(comm, sess, [train, loss], feeds, quick)
    sess.close()
    return {"case": "mlp-ps%s/b128" % ("2-adam" if adam else ""), "ranks": world.Get_size(),
            "workers": comm.Get_size(), "ps": ps_tasks,
            "ms_per_step": per_step * 1e3, "samples_per_s": comm.Get_size() * batch / per_step}


# -- the launcher -----------------------------------------------------------------------------

def _mpiexec():
    here = Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else shutil.which("mpiexec")


def launch(n, worker, quick, timeout=600, bucket_bytes=None):
    cmd = [_mpiexec(), "-n", str(n), sys.executable, "-m", "mpi4py", str(Path(__file__).resolve()),
           "--worker", worker] + (["--quick"] if quick else []) + (
           ["--bucket-bytes", str(bucket_bytes)] if bucket_bytes is not None else [])
    env = dict(os.environ, PYTHONPATH=str(ROOT), **THREADS)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=str(ROOT))
    if out.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s%s" % (" ".join(cmd), out.returncode, out.stdout, out.stderr))
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    return json.loads(lines[-1].split(" ", 1)[1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, few calls: a smoke test")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--worker", choices=["allreduce", "allreduce-bare", "mlp", "mlp-ps", "mlp-ps2-adam"],
                   help=argparse.SUPPRESS)
    p.add_argument("--bucket-bytes", type=int, default=None,
                   help="DistributedOptimizer's bucket_bytes in the 2-rank MLP (default: its default; 0: no "
                        "all-reduce, each rank alone)")
    args = p.parse_args(argv)
    if args.worker:
        if args.worker == "mlp":
            from nbflow.distribute.optimizer import DEFAULT_BUCKET_BYTES
            result = worker_mlp(args.quick, DEFAULT_BUCKET_BYTES if args.bucket_bytes is None else args.bucket_bytes)
        elif args.worker == "allreduce-bare":
            result = worker_allreduce(args.quick, bare=True)
        elif args.worker == "mlp-ps2-adam":
            result = worker_mlp_ps(args.quick, ps_tasks=2, adam=True)
        else:
            result = {"allreduce": worker_allreduce, "mlp-ps": worker_mlp_ps}[args.worker](args.quick)
        from mpi4py import MPI
        first_worker = {"mlp-ps": 1, "mlp-ps2-adam": 2}.get(args.worker, 0)
        if result is not None and MPI.COMM_WORLD.Get_rank() == first_worker:
            print("RESULT " + json.dumps(result), flush=True)
        return result
    if _mpiexec() is None:
        sys.exit("benchmarks.distributed: mpiexec not found (pip install nbflow[mpi])")
    bare, ars = [], []
    for _ in range(2):  # alternate: the bare calls in a job of their own, then every case in one job
        bare.append(launch(2, "allreduce-bare", args.quick))
        ars.append(launch(2, "allreduce", args.quick))
    alone = statistics.median(b["ms_per_call"]["mpi4py"] for b in bare)
    ar = ars[-1]
    ar["mpi4py_own_job_ms"] = [b["ms_per_call"]["mpi4py"] for b in bare]
    print("%s over %d ranks (ms per call; calls/s vs mpi4py in the same job, and vs mpi4py alone in its own "
          "jobs: %.2f ms):" % (ar["case"], ar["ranks"], alone))
    for run in ars:
        for name, ms in run["ms_per_call"].items():
            print("  %-20s %8.2f ms  %.2fx  %.2fx" % (name, ms, run["vs_mpi4py"][name], alone / ms))
    worst = min(alone / v for r in ars for k, v in r["ms_per_call"].items() if k.startswith("nbflow"))
    print("  target nbflow >= 0.90x mpi4py (alone): %s (%.2fx)" % ("MET" if worst >= 0.9 else "MISS", worst))
    one, two = launch(1, "mlp", args.quick), launch(2, "mlp", args.quick, bucket_bytes=args.bucket_bytes)
    ratio = two["samples_per_s"] / one["samples_per_s"]
    print("mlp/b128 per rank, SGD: 1 rank %.0f samples/s (%.2f ms/step), 2 ranks %.0f samples/s (%.2f ms/step): "
          "%.2fx" % (one["samples_per_s"], one["ms_per_step"], two["samples_per_s"], two["ms_per_step"], ratio))
    print("  target 2 ranks >= 1.6x 1 rank: %s" % ("MET" if ratio >= 1.6 else "MISS"))
    ps = launch(3, "mlp-ps", args.quick)
    print("mlp/b128 per worker, SGD, ps mode (1 ps + 2 workers, async): %.0f samples/s (%.2f ms/step): %.2fx "
          "1 rank" % (ps["samples_per_s"], ps["ms_per_step"], ps["samples_per_s"] / one["samples_per_s"]))
    ps2 = launch(4, "mlp-ps2-adam", args.quick)
    print("mlp/b128 per worker, Adam + global step, ps mode (2 ps + 2 workers, async): %.0f samples/s "
          "(%.2f ms/step)" % (ps2["samples_per_s"], ps2["ms_per_step"]))
    results = {"allreduce": ars, "allreduce_bare": bare, "mlp": [one, two], "mlp_ratio": ratio, "mlp_ps": ps, "mlp_ps2_adam": ps2}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
