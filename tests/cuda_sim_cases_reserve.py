"""``allow_growth=False`` with a memory fraction reserves the capped amount when the Session is
created, and every device buffer is carved from it (backends/cuda/device_arena.py). Run by
tests/test_cuda_sim.py in the simulator process (not collected directly)."""
import gc

import numpy as np
import pytest
from numba import cuda

import nbflow as tf
from nbflow.backends.cuda.device_memory import SIMULATOR_DEFAULT_TOTAL

pytestmark = pytest.mark.skipif(not tf.test.is_gpu_available(), reason="needs the simulated (or a real) GPU")

RESERVED = 64 * 1024


def _config(nbytes=RESERVED, allow_growth=False):
    return tf.ConfigProto(gpu_options=tf.GPUOptions(per_process_gpu_memory_fraction=nbytes / SIMULATOR_DEFAULT_TOTAL,
                                                    allow_growth=allow_growth))


def _gpu(sess):
    return next(d for d in sess.runtime.local_devices if d.device_type == "GPU")


@pytest.fixture
def raw_allocations(monkeypatch):
    """Every device array numba.cuda is asked for, whoever asks."""
    made = []
    for name in ("device_array", "to_device", "device_array_like"):
        real = getattr(cuda, name)

        def counted(*a, _real=real, _name=name, **k):
            made.append(_name)
            return _real(*a, **k)
        monkeypatch.setattr(cuda, name, counted)
    return made


def _inside(block, array):
    """Whether a (simulated) device array's memory lies inside the reservation ``block``."""
    start = block._ary.__array_interface__["data"][0]
    address = array._ary.__array_interface__["data"][0]
    return start <= address and address + array.nbytes <= start + block.nbytes


def _mlp():
    x, y = tf.placeholder(tf.float32, [8, 6]), tf.placeholder(tf.int32, [8])
    w1 = tf.Variable(np.linspace(-0.5, 0.5, 24, dtype=np.float32).reshape(6, 4))
    w2 = tf.Variable(np.linspace(0.3, -0.3, 12, dtype=np.float32).reshape(4, 3))
    logits = tf.matmul(tf.nn.relu(tf.matmul(x, w1)), w2)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    return x, y, w1, loss, tf.train.AdamOptimizer(0.05).minimize(loss)


def test_the_fraction_is_reserved_at_session_creation_and_every_buffer_is_carved_from_it(raw_allocations):
    rng = np.random.RandomState(3)
    xs, ys = rng.randn(8, 6).astype(np.float32), rng.randint(0, 3, size=8).astype(np.int32)
    losses = {}
    for dev, config in (("/cpu:0", None), ("/gpu:0", _config())):
        g = tf.Graph()
        with g.as_default(), tf.device(dev):
            x, y, w1, loss, step = _mlp()
            del raw_allocations[:]
            with tf.Session(graph=g, config=config) as sess:
                if dev == "/gpu:0":
                    gpu = _gpu(sess)
                    arena = gpu.memory.arena
                    assert arena is not None and arena.size == gpu.memory.limit == RESERVED
                    assert raw_allocations == ["device_array"]  # the reservation, at creation
                sess.run(tf.global_variables_initializer())
                losses[dev] = [sess.run([loss, step], {x: xs, y: ys})[0] for _ in range(3)]
                if dev == "/gpu:0":
                    assert raw_allocations == ["device_array"]  # nothing asked of CUDA since
                    w1_value = sess.runtime.resources.get(
                        next(h for h in sess.runtime.resources.handles("variable") if h.name == w1.op.name)).value
                    assert _inside(arena.block, w1_value)
                    assert 0 < gpu.memory.bytes_in_use <= RESERVED - arena.free_bytes
                    assert gpu.memory.peak_bytes <= RESERVED
                    assert "reserved up front" in gpu.memory.summary()
    np.testing.assert_allclose(losses["/gpu:0"], losses["/cpu:0"], rtol=2e-5)


def test_carved_buffers_return_to_the_reservation_when_freed():
    g = tf.Graph()
    with g.as_default(), tf.device("/gpu:0"):
        x = tf.placeholder(tf.float32, [16, 16])
        y = tf.matmul(x, x) + 1.0
        sess = tf.Session(graph=g, config=_config())
        gpu = _gpu(sess)
        arena = gpu.memory.arena
        free_before = arena.free_bytes
        xs = np.eye(16, dtype=np.float32)
        np.testing.assert_allclose(sess.run(y, {x: xs}), xs + 1.0)
        assert arena.free_bytes < free_before and gpu.memory.bytes_in_use > 0
        sess.close()  # drops the plans, and with them their buffers
        gc.collect()
        assert arena.free_bytes == free_before and gpu.memory.bytes_in_use == 0
        assert arena._free.largest_free == free_before  # coalesced into one range again


def test_over_the_reservation_is_resource_exhausted_naming_the_op():
    g = tf.Graph()
    with g.as_default(), tf.device("/gpu:0"):
        x = tf.placeholder(tf.float32, [4, 4])
        big = tf.tile(x, [16, 16], name="too_big")  # 64x64 float32: 16 KiB
        with tf.Session(graph=g, config=_config(8 * 1024)) as sess:
            with pytest.raises(tf.errors.ResourceExhaustedError, match="too_big") as info:
                sess.run(big, {x: np.ones((4, 4), np.float32)})
            assert "reserved up front" in str(info.value)


@pytest.mark.parametrize("config", [None, "growth", "no_fraction"])
def test_nothing_is_reserved_without_a_fraction_or_with_allow_growth(config, raw_allocations):
    config = {None: None, "growth": _config(allow_growth=True),
              "no_fraction": tf.ConfigProto(gpu_options=tf.GPUOptions(allow_growth=False))}[config]
    g = tf.Graph()
    with g.as_default(), tf.device("/gpu:0"):
        x = tf.placeholder(tf.float32, [4])
        y = x * 2.0
        del raw_allocations[:]
        with tf.Session(graph=g, config=config) as sess:
            assert _gpu(sess).memory.arena is None and raw_allocations == []
            np.testing.assert_allclose(sess.run(y, {x: np.ones(4, np.float32)}), np.full(4, 2.0))
            assert raw_allocations  # grown as the plan was built
