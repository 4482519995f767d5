"""nbflow.distribute in one process: helpers, the MPI ops on a communicator of one
rank, DistributedOptimizer's wrapping and gradient fusion, and the ImportError
without mpi4py. Real multi-rank jobs: tests/test_distribute_mpi.py."""
import sys

import numpy as np
import pytest

import nbflow as tf
import nbflow.distribute as nd
from nbflow.backends import mpi_comm, registry
from nbflow.backends.context import KernelContext
from nbflow.framework.context import eager_mode
from nbflow.ops import mpi_ops


def test_shard_indices_cover_the_range_once_as_array_split():
    for n in (0, 1, 7, 10, 128):
        for size in (1, 2, 3, 4):
            shards = [nd.shard_indices(n, r, size) for r in range(size)]
            np.testing.assert_array_equal(np.concatenate(shards), np.arange(n))
            for got, want in zip(shards, np.array_split(np.arange(n), size)):
                np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="rank 2"):
        nd.shard_indices(10, 2, 2)


def test_without_mpi4py_import_works_and_use_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py -> ImportError
    monkeypatch.setattr(mpi_comm, "_state", {"comm": None, "MPI": None})
    with pytest.raises(ImportError, match=r"pip install nbflow\[mpi\]"):
        nd.rank()
    y = nd.allreduce(tf.constant([1.0, 2.0]))  # building a graph needs no MPI
    with tf.Session() as sess:
        with pytest.raises(ImportError, match=r"pip install nbflow\[mpi\]"):
            sess.run(y)


def test_op_inference_checks_dtypes():
    with pytest.raises(TypeError, match="one dtype"):
        nd.broadcast([tf.constant([1.0]), tf.constant([1.0], tf.float64)])
    with pytest.raises(TypeError, match="float16 is not supported"):
        nd.allreduce(tf.constant([1.0], tf.float16))
    outs = nd.broadcast([tf.zeros([2, 3]), tf.zeros([4])])
    assert [o.shape.as_list() for o in outs] == [[2, 3], [4]]


@pytest.fixture
def mpi():
    pytest.importorskip("mpi4py", reason="needs mpi4py: pip install nbflow[mpi]")
    assert nd.size() == 1, "run the in-process tests without mpiexec"
    yield


def test_rank_size_chief_of_a_single_process(mpi):
    assert (nd.rank(), nd.size(), nd.is_chief()) == (0, 1, True)
    np.testing.assert_array_equal(nd.shard_indices(5), np.arange(5))


def test_collectives_on_one_rank_are_identities_and_reuse_one_buffer(mpi):
    a = tf.placeholder(tf.float32, [2, 3])
    b = tf.placeholder(tf.float32, [4])
    ra, rb = nd.allreduce_gradients([(a, None), (b, None)])
    s = nd.allreduce(tf.constant([1, 2], tf.int32), average=False)
    bc = nd.broadcast([a * 2.0, b])
    av, bv = np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(4, np.float32)
    with tf.Session() as sess:
        got = sess.run([ra[0], rb[0], s] + bc, {a: av, b: bv})
        again = sess.run([ra[0], rb[0]], {a: av + 1, b: bv})
    np.testing.assert_array_equal(got[0], av)
    np.testing.assert_array_equal(got[1], bv)
    np.testing.assert_array_equal(got[2], [1, 2])
    np.testing.assert_array_equal(got[3], av * 2)
    np.testing.assert_array_equal(again[0], av + 1)
    # in a graph the optimizer's bucket is a start op (the backward pass's gradients, last
    # variable first) and a wait op; the start packs into one flat buffer allocated at bind
    # time and returns views of it, the wait hands the same views on
    wait = ra[0].op
    start = wait.inputs[0].op
    assert (start.type, wait.type) == ("MpiAllreduceStart", "MpiAllreduceWait")
    assert [t.op for t in wait.inputs] == [start, start] and list(start.inputs) == [b, a]

    def bound(op):
        ctx = KernelContext(op, [t.dtype for t in op.inputs], [t.shape for t in op.inputs], [None, None],
                            [t.dtype for t in op.outputs], [t.shape for t in op.outputs])
        return registry.kernel_factory(op.op_def, "CPU")(ctx)
    run_start, run_wait = bound(start), bound(wait)
    first = run_wait(*run_start(bv, av))
    second = run_wait(*run_start(bv, av + 1))
    assert first[1] is second[1] and first[0].base is first[1].base is not None
    assert first[0].flags.c_contiguous and first[1].flags.c_contiguous
    np.testing.assert_array_equal(second[1], av + 1)
    with pytest.raises(Exception, match="not the outputs of an MpiAllreduceStart"):
        run_wait(bv, av)  # nothing was started on these
    bucket = mpi_ops.allreduce_bucket([a, b])[0].op  # the blocking form (eager mode's)
    run = bound(bucket)
    first, second = run(av, bv), run(av + 1, bv)
    assert first[0] is second[0] and first[0].base is first[1].base is not None
    np.testing.assert_array_equal(second[0], av + 1)
    with pytest.raises(Exception, match="floating"):
        with tf.Session() as sess:
            sess.run(nd.allreduce(tf.constant([1, 2], tf.int32), average=True))


def test_buckets_go_out_in_chunks_that_cross_inputs(mpi, monkeypatch):
    monkeypatch.setenv("NBFLOW_MPI_MESSAGE_BYTES", "12")  # 3 float32 per message
    a, b = tf.placeholder(tf.float32, [2, 5]), tf.placeholder(tf.float32, [4])
    (ra, _), (rb, _) = nd.allreduce_gradients([(a, None), (b * 1.0, None)])
    s = nd.allreduce(a, average=False)
    av, bv = np.arange(10, dtype=np.float32).reshape(2, 5), np.arange(4, dtype=np.float32) + 20
    with tf.Session() as sess:
        got = sess.run([ra, rb, s], {a: av, b: bv})
    np.testing.assert_array_equal(got[0], av)
    np.testing.assert_array_equal(got[1], bv)
    np.testing.assert_array_equal(got[2], av)


def test_gradients_are_fused_into_chained_buckets(mpi):
    vs = [tf.Variable(np.zeros(n, np.float32)) for n in (100, 100, 300, 10)]
    vs.append(tf.Variable(np.zeros(5, np.float64)))
    loss = tf.add_n([tf.reduce_sum(v * v) for v in vs[:4]]) + tf.cast(tf.reduce_sum(vs[4]), tf.float32)
    grads = tf.gradients(loss, vs)
    out = nd.allreduce_gradients(list(zip(grads, vs)), bucket_bytes=800)
    waits = []
    for g, _ in out:
        if g.op not in waits:
            waits.append(g.op)
    assert {op.type for op in waits} == {"MpiAllreduceWait"}
    starts = [w.inputs[0].op for w in reversed(waits)]  # filled from the last variable back
    assert [op.type for op in starts] == ["MpiAllreduceStart"] * 4
    # float64 apart; 10 floats; 300 alone; 100+100 floats (last variable first)
    assert [[t.op for t in op.inputs] for op in starts] == [
        [grads[4].op], [grads[3].op], [grads[2].op], [grads[1].op, grads[0].op]]
    # every rank posts the starts in one order
    assert starts[1].control_inputs == [starts[0]] and starts[2].control_inputs == [starts[1]]
    assert starts[3].control_inputs == [starts[2]]
    assert [v for _, v in out] == vs


def test_allreduce_gradient_is_an_allreduce(mpi):
    x = tf.placeholder(tf.float64, [3])
    y = nd.allreduce(x * x)
    (dx,) = tf.gradients(tf.reduce_sum(y), x)
    assert [op.type for op in tf.get_default_graph().get_operations()].count("MpiAllreduce") == 2
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(dx, {x: [1.0, 2.0, 3.0]}), [2.0, 4.0, 6.0])


def _train_tf1(opt_factory, distributed, steps=3):
    tf.reset_default_graph()
    rng = np.random.RandomState(0)
    xv, yv = rng.randn(8, 3).astype(np.float32), rng.randn(8, 1).astype(np.float32)
    x, y = tf.constant(xv), tf.constant(yv)
    w = tf.Variable(rng.randn(3, 1).astype(np.float32), name="w")
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y))
    opt = opt_factory()
    if distributed:
        opt = nd.DistributedOptimizer(opt)
    train = opt.minimize(loss, var_list=[w])
    init = [tf.global_variables_initializer()]
    with tf.Session() as sess:
        sess.run(init)
        if distributed:
            sess.run(nd.broadcast_variables(tf.global_variables()))
        for _ in range(steps):
            sess.run(train)
        return sess.run(w), opt


@pytest.mark.parametrize("make", [lambda: tf.train.GradientDescentOptimizer(0.1),
                                  lambda: tf.train.AdamOptimizer(0.01),
                                  lambda: tf.keras.optimizers.SGD(0.1, momentum=0.9)],
                         ids=["sgd", "adam", "keras_sgd"])
def test_distributed_optimizer_on_one_rank_trains_as_the_wrapped_one(mpi, make):
    plain, _ = _train_tf1(make, False)
    dist, opt = _train_tf1(make, True)
    np.testing.assert_allclose(dist, plain, rtol=1e-6)
    assert isinstance(opt, type(make())) and type(opt).__name__.startswith("Distributed")
    with pytest.raises(ValueError, match="already"):
        nd.DistributedOptimizer(opt)
    with pytest.raises(TypeError, match="wraps"):
        nd.DistributedOptimizer(object())


def test_eager_broadcast_and_keras_apply_gradients(mpi):
    with eager_mode():
        v = tf.Variable([1.0, 2.0])
        assert nd.broadcast_variables([v]) is None
        np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])
        opt = nd.DistributedOptimizer(tf.keras.optimizers.SGD(0.5))
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(v * v)
        opt.apply_gradients(zip(tape.gradient(loss, [v]), [v]))
        np.testing.assert_allclose(v.numpy(), [0.0, 0.0])
        np.testing.assert_array_equal(nd.allreduce(tf.constant([3.0])).numpy(), [3.0])


def test_example_ps_mode_without_mpiexec_says_how_to_launch():
    # a subprocess: the example sets NUMBA_NUM_THREADS for its own process, which must
    # not leak into this one (Numba refuses a new thread count once threads run)
    import subprocess
    import sys
    from pathlib import Path
    pytest.importorskip("mpi4py")
    example = str(Path(__file__).resolve().parents[1] / "examples" / "distributed_mnist.py")
    proc = subprocess.run([sys.executable, example, "--ps", "2", "--workers", "2"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0
    assert "the cluster has 4 tasks (ps: 2, worker: 2) but this MPI job has 1 rank(s): launch it with " \
           "`mpiexec -n 4 python -m mpi4py prog.py`" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_buckets_start_during_the_backward_pass_and_wait_after_it(mpi):
    # the order pass posts a bucket as soon as its gradients exist (the last layer's first),
    # computes the rest of the backward pass while it travels, and waits only at the end
    x = tf.placeholder(tf.float32, [4, 3])
    w0 = tf.Variable(np.ones((3, 5), np.float32), name="w0")
    w1 = tf.Variable(np.ones((5, 2), np.float32), name="w1")
    loss = tf.reduce_sum(tf.matmul(tf.nn.relu(tf.matmul(x, w0)), w1))
    opt = nd.DistributedOptimizer(tf.train.GradientDescentOptimizer(0.1), bucket_bytes=1)
    train = opt.minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, {x: np.ones((4, 3), np.float32)})
        text = tf.explain(train, {x: np.ones((4, 3), np.float32)}, session=sess, file=False)
    steps = [ln.split()[1] for ln in text.splitlines() if ln[:6].strip().isdigit()]
    start_w1, start_w0 = steps.index("MpiAllreduceBucket/start"), steps.index("MpiAllreduceBucket/start_1")
    grad_w0 = next(i for i, s in enumerate(steps) if s.startswith("gradients/MatMul_grad/MatMul_1"))
    waits = [i for i, s in enumerate(steps) if s.startswith("MpiAllreduceBucket/wait")]
    assert start_w1 < grad_w0 < start_w0 < min(waits)
