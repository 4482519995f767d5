"""The optimizer updates' parallel twins (kernels/cpu/optim_parallel.py) match the serial kernels bit for bit."""
import inspect

import numba
import numpy as np
import pytest

import nbflow as tf
from nbflow.backends.cpu import training as cpu_training
from nbflow.kernels.cpu import optim as K
from nbflow.kernels.cpu import optim_parallel as P

ARRAYS = {"var", "accum", "m", "v", "vhat", "ms", "mom", "mg", "accum_update", "grad"}
FLAGS = {"use_nesterov", "update_slots", "centered"}
SCALARS = {"lr": 0.01, "momentum": 0.9, "beta1_power": 0.81, "beta2_power": 0.998, "beta1": 0.9,
           "beta2": 0.999, "epsilon": 1e-7, "rho": 0.95}
NAMES = [n for n, f in vars(P).items() if n.startswith("apply_")]


def make_args(name, n, dtype, flag, rng):
    args = []
    for p in inspect.signature(getattr(K, name).py_func).parameters:
        if p in ARRAYS:
            a = rng.rand(n).astype(dtype) + dtype(0.1)  # positive: the slots under square roots
            args.append(a)
        elif p in FLAGS:
            args.append(flag)
        else:
            args.append(dtype(SCALARS[p]))
    return args


def test_every_serial_kernel_has_a_twin():
    serial = sorted(n for n in vars(K) if n.startswith("apply_"))
    assert sorted(NAMES) == serial


@pytest.mark.parametrize("name", sorted(NAMES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,nt", [(0, 2), (1, 2), (63, 3), (1000, 1), (1000, 2), (4099, 3)])
def test_twin_matches_serial_bitwise(name, dtype, n, nt):
    for flag in (False, True):
        rng = np.random.RandomState(n + nt)
        serial = make_args(name, n, dtype, flag, rng)
        parallel = [a.copy() if isinstance(a, np.ndarray) else a for a in serial]
        getattr(K, name)(*serial)
        getattr(P, name)(nt, *parallel)
        for s, p in zip(serial, parallel):
            if isinstance(s, np.ndarray):
                np.testing.assert_array_equal(p, s)


def test_blocks_cover_the_array_on_whole_runs():
    for n in (0, 1, 64, 65, 1000, 4097):
        for nt in (1, 2, 3, 8):
            bounds = [P.block(n, nt, t) for t in range(nt)]
            assert bounds[0][0] == 0 and bounds[-1][1] == n
            assert all(bounds[t][1] == bounds[t + 1][0] for t in range(nt - 1))
            assert all(lo % 64 == 0 for lo, _ in bounds if lo < n)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two Numba threads")
@pytest.mark.parametrize("make", [lambda: tf.train.AdamOptimizer(0.01),
                                  lambda: tf.train.MomentumOptimizer(0.01, 0.9, use_nesterov=True),
                                  lambda: tf.train.RMSPropOptimizer(0.01, centered=True)])
def test_session_updates_above_the_threshold_match_one_thread(monkeypatch, make):
    rng = np.random.RandomState(0)
    w0 = rng.randn(300, 7).astype(np.float32)
    x = rng.randn(5, 300).astype(np.float32)

    calls = []
    for name in NAMES:  # count the twins' calls: the small threshold must reach them
        monkeypatch.setattr(P, name, lambda *a, _k=getattr(P, name): calls.append(a[0]) or _k(*a))

    def train(threshold):
        monkeypatch.setattr(cpu_training, "PARALLEL_MIN_ELEMENTS", threshold)
        monkeypatch.setattr(cpu_training, "PARALLEL_MIN_ELEMENTS_FOR",
                            {k: threshold for k in cpu_training.PARALLEL_MIN_ELEMENTS_FOR})
        with tf.Graph().as_default():
            w = tf.Variable(w0)
            loss = tf.reduce_sum(tf.square(tf.matmul(tf.constant(x), w)))
            step = make().minimize(loss)
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                for _ in range(3):
                    sess.run(step)
                return sess.run(w)

    serial = train(1 << 30)
    assert calls == []
    np.testing.assert_array_equal(train(100), serial)
    assert calls and set(calls) == {numba.get_num_threads()}


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two Numba threads")
def test_adam_keeps_its_own_higher_threshold():
    """Adam splits from 1M elements (the MNIST script's 401K Adam updates stay serial: no
    twin to compile before its first step), every other update from 256K."""
    big = 300_000
    assert cpu_training._threads(big, "apply_gradient_descent") == numba.get_num_threads()
    assert cpu_training._threads(big, "apply_momentum") == numba.get_num_threads()
    assert cpu_training._threads(big, "apply_adam") == 1
    assert cpu_training._threads(1 << 20, "apply_adam") == numba.get_num_threads()
    assert cpu_training._threads(1000, "apply_gradient_descent") == 1
