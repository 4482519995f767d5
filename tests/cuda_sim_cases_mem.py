"""GPU memory under Numba's CUDA simulator: planned device buffers, the gpu_options cap,
pinned staging copies (run by tests/test_cuda_sim.py in the simulator process)."""
import numpy as np
import pytest
from numba import cuda

import nbflow as tf
from nbflow.backends.cuda.device_memory import SIMULATOR_DEFAULT_TOTAL
from nbflow.backends.cuda.staging import DeviceToHost, HostToDevice

pytestmark = pytest.mark.skipif(not tf.test.is_gpu_available(), reason="needs the simulated (or a real) GPU")


def _gpu(sess):
    return next(d for d in sess.runtime.local_devices if d.device_type == "GPU")


@pytest.fixture
def raw_allocations(monkeypatch):
    """Counts every device array numba.cuda makes, whoever asks (not only through GPUDevice)."""
    count = [0]
    for name in ("device_array", "to_device", "device_array_like"):
        real = getattr(cuda, name)

        def counted(*a, _real=real, **k):
            count[0] += 1
            return _real(*a, **k)
        monkeypatch.setattr(cuda, name, counted)
    return count


def _mlp(opt):
    x, y = tf.placeholder(tf.float32, [8, 6]), tf.placeholder(tf.int32, [8])
    w1 = tf.Variable(np.linspace(-0.5, 0.5, 24, dtype=np.float32).reshape(6, 4))
    b1 = tf.Variable(np.zeros(4, np.float32))
    w2 = tf.Variable(np.linspace(0.3, -0.3, 12, dtype=np.float32).reshape(4, 3))
    h = tf.nn.relu(tf.nn.bias_add(tf.matmul(x, w1), b1))
    logits = tf.matmul(h, w2)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    return x, y, loss, opt.minimize(loss)


def test_mlp_training_allocates_device_memory_in_the_first_step_only(raw_allocations):
    rng = np.random.RandomState(5)
    xs, ys = rng.randn(8, 6).astype(np.float32), rng.randint(0, 3, size=8).astype(np.int32)
    losses = {}
    for dev in ("/cpu:0", "/gpu:0"):
        g = tf.Graph()
        with g.as_default(), tf.device(dev):
            x, y, loss, step = _mlp(tf.train.AdamOptimizer(0.05))
            with tf.Session(graph=g) as sess:
                sess.run(tf.global_variables_initializer())
                gpu = _gpu(sess)
                before = (raw_allocations[0], gpu.memory.allocations)
                losses[dev] = [sess.run([loss, step], {x: xs, y: ys})[0]]
                first = (raw_allocations[0], gpu.memory.allocations)
                in_use = gpu.memory.bytes_in_use
                for _ in range(4):
                    losses[dev].append(sess.run([loss, step], {x: xs, y: ys})[0])
                later = (raw_allocations[0], gpu.memory.allocations)
                in_use_later = gpu.memory.bytes_in_use
                if dev == "/gpu:0":
                    plan = sess.plan_for([loss, step], {x: xs, y: ys})
                    text = tf.explain([loss, step], {x: xs, y: ys}, file=False)
        if dev == "/gpu:0":
            assert first[0] > before[0] and first[1] > before[1]  # the plan's buffers, once
            assert later == first, (first, later)  # steps 2-5: no device allocation at all
            assert in_use_later == in_use > 0
            allocated, reused = plan.memory.device_bytes[gpu.name]
            assert allocated > 0 and reused > 0  # dead values' buffers served later ops
            assert "Device memory %s:" % gpu.name in text, text
    np.testing.assert_allclose(losses["/gpu:0"], losses["/cpu:0"], rtol=2e-5)


def _chain(n=4):
    """Matmuls of one shape (not fused): each value dies at the next one, so the plan reuses buffers."""
    x = tf.placeholder(tf.float32, [8, 8])
    w = tf.constant(np.eye(8, dtype=np.float32) * 0.5 + 0.01)
    h = x
    for _ in range(n):
        h = tf.matmul(h, w)
    return x, h


@pytest.mark.parametrize("disabled", [[], ["memory"]])
def test_planned_device_buffers_are_shared_by_dead_values(disabled):
    xs = np.arange(64, dtype=np.float32).reshape(8, 8) / 64
    g = tf.Graph()
    with g.as_default(), tf.device("/gpu:0"):
        x, h = _chain(6)
        with tf.Session(graph=g, config=tf.ConfigProto(nbflow_disabled_passes=disabled)) as sess:
            gpu = _gpu(sess)
            out = sess.run(h, {x: xs})
            allocations = gpu.memory.allocations
            out2 = sess.run(h, {x: xs + 1})
            assert gpu.memory.allocations == allocations
    ref = xs.copy()
    ref2 = xs + 1
    m = np.eye(8, dtype=np.float32) * 0.5 + 0.01
    for _ in range(6):
        ref, ref2 = ref @ m, ref2 @ m
    np.testing.assert_allclose(out, ref, rtol=1e-5)
    np.testing.assert_allclose(out2, ref2, rtol=1e-5)
    # the constant, then the feed's copy and the six products: planned, two buffers serve all seven
    assert allocations == (1 + 2 if not disabled else 1 + 1 + 6)


def _capped(fraction_bytes, allow_growth=False):
    fraction = fraction_bytes / SIMULATOR_DEFAULT_TOTAL
    return tf.ConfigProto(gpu_options=tf.GPUOptions(per_process_gpu_memory_fraction=fraction,
                                                    allow_growth=allow_growth))


@pytest.mark.parametrize("allow_growth", [False, True])
def test_memory_fraction_caps_device_memory_and_names_the_op(allow_growth):
    xs = np.ones((4, 4), np.float32)
    g = tf.Graph()
    with g.as_default(), tf.device("/gpu:0"):
        x = tf.placeholder(tf.float32, [4, 4])
        big = tf.tile(x * 2.0, [8, 8], name="too_big")  # 32x32 float32: 4096 bytes
        with tf.Session(graph=g, config=_capped(2000, allow_growth)) as sess:
            assert _gpu(sess).memory.limit == int(2000 / SIMULATOR_DEFAULT_TOTAL * SIMULATOR_DEFAULT_TOTAL)
            with pytest.raises(tf.errors.ResourceExhaustedError, match="OOM") as info:
                sess.run(big, {x: xs})
            assert info.value.op is not None and info.value.op.name == "too_big"
            assert "too_big" in str(info.value) and "per_process_gpu_memory_fraction" in str(info.value)
            np.testing.assert_allclose(sess.run(x * 2.0, {x: xs}), xs * 2)  # what fits still runs
        with tf.Session(graph=g, config=_capped(64 * 1024, allow_growth)) as sess:
            np.testing.assert_allclose(sess.run(big, {x: xs}), np.tile(xs * 2, [8, 8]))


def test_cap_reached_while_running_names_the_op():
    """A shape known only when fed: the output is allocated while the step runs."""
    g = tf.Graph()
    with g.as_default(), tf.device("/gpu:0"):
        x = tf.placeholder(tf.float32, [None, 4])
        y = tf.add(x, x, name="grows")
        with tf.Session(graph=g, config=_capped(3000)) as sess:
            np.testing.assert_allclose(sess.run(y, {x: np.ones((2, 4), np.float32)}), 2 * np.ones((2, 4)))
            with pytest.raises(tf.errors.ResourceExhaustedError, match="grows"):
                sess.run(y, {x: np.ones((128, 4), np.float32)})  # the copy fits (2048 bytes), not the sum


def test_constant_over_the_cap_names_its_op():
    g = tf.Graph()
    with g.as_default(), tf.device("/gpu:0"):
        x = tf.placeholder(tf.float32, [32, 32])
        c = tf.constant(np.ones((32, 32), np.float32), name="big_constant")
        y = x * c
        with tf.Session(graph=g, config=_capped(2000)) as sess:
            with pytest.raises(tf.errors.ResourceExhaustedError, match="big_constant"):
                sess.run(y, {x: np.ones((32, 32), np.float32)})


def test_invalid_memory_fraction_is_refused():
    for bad in (1.5, -0.1):
        with pytest.raises(ValueError, match="per_process_gpu_memory_fraction"):
            tf.Session(graph=tf.Graph(), config=tf.ConfigProto(
                gpu_options=tf.GPUOptions(per_process_gpu_memory_fraction=bad)))


def test_copies_go_through_pinned_staging_buffers():
    g = tf.Graph()
    with g.as_default(), tf.device("/gpu:0"):
        x = tf.placeholder(tf.float32, [3, 5])
        n = tf.placeholder(tf.int32, [None])
        y = tf.exp(x) * 2.0
        m = n * 3
        with tf.Session(graph=g) as sess:
            gpu = _gpu(sess)
            outs = []
            for k in range(3):  # each run's feed lands in the staged buffer; fetches are new arrays
                xs = np.full((3, 5), 0.1 * k, np.float32)
                outs.append(sess.run(y, {x: xs}))
                np.testing.assert_allclose(outs[-1], np.exp(xs) * 2.0, rtol=1e-6)
            assert outs[0] is not outs[1] and not np.shares_memory(outs[0], outs[1])
            np.testing.assert_allclose(outs[0], np.full((3, 5), 2.0), rtol=1e-6)  # not overwritten
            plan = sess._plans[next(k for k in sess._plans)]
            copies = [s[0] for s in plan.steps if isinstance(s[0], (HostToDevice, DeviceToHost))]
            assert {type(c) for c in copies} == {HostToDevice, DeviceToHost}
            assert all(c.pinned is not None and not getattr(type(c.pinned), "__cuda_ndarray__", False)
                       for c in copies)
            assert gpu.pinned_bytes >= 2 * 15 * 4
            # unknown shapes are copied without staging
            np.testing.assert_array_equal(sess.run(m, {n: np.arange(5, dtype=np.int32)}), np.arange(5) * 3)
            np.testing.assert_array_equal(sess.run(m, {n: np.arange(2, dtype=np.int32)}), np.arange(2) * 3)
