"""Tiny element-wise kernels (kernels/cpu/elementwise.py, ``TieredKernel``):
outputs of a few elements run the generated source as Python until the kernel
has been called ``COMPILE_AFTER_CALLS`` times, then compiled. Both runs must
give the same bits, warn about nothing, and fall back to the compiled kernel
wherever numpy refuses what Numba computes."""
import warnings

import numpy as np
import pytest

import nbflow as tf
from nbflow.kernels.cpu import elementwise as ew
from nbflow.ops.base import registered_op_types
from nbflow.ops.elementwise import ElementwiseOp


@pytest.fixture
def fresh_kernels(monkeypatch):
    """Tiered kernels counted from zero in this test (the compiled dispatchers stay shared)."""
    monkeypatch.setattr(ew, "_tiered", {})
    return ew


def test_tiny_kernel_runs_as_python_then_compiles(fresh_kernels, monkeypatch):
    monkeypatch.setattr(ew, "COMPILE_AFTER_CALLS", 3)
    k, shape = ew.get_kernel(["t0 = np.float32((x0 * x1))"], ["(t0 + np.float32(1))"], [np.float32] * 2,
                             [(), (2,)], [np.float32])
    assert isinstance(k, ew.TieredKernel) and shape == (2,)
    a, b, out = np.array(3.0, np.float32), np.array([1.5, -2.0], np.float32), np.empty(2, np.float32)
    for i in range(3):
        k(a, b, out)
        assert not k.compiled and k.calls == i + 1
    np.testing.assert_array_equal(out, [5.5, -5.0])
    out[:] = 0
    k(a, b, out)
    assert k.compiled and len(k.dispatcher.signatures) >= 1
    np.testing.assert_array_equal(out, [5.5, -5.0])
    # the same kernel for a large output is the compiled dispatcher itself
    big, _ = ew.get_kernel(["t0 = np.float32((x0 * x1))"], ["(t0 + np.float32(1))"], [np.float32] * 2,
                           [(), (100,)], [np.float32])
    assert big is k.dispatcher


def test_kernels_that_may_differ_are_compiled(fresh_kernels):
    f32 = [np.float32]
    for expr in ["(fastmath.exp32(x0))", "(np.exp(x0))", "(math.erf(x0))", "(np.tanh(x0))"]:
        k, _ = ew.get_kernel([], [expr], f32, [()], f32)
        assert not isinstance(k, ew.TieredKernel), expr
    # a fused sum may be reassociated by the compiled loop
    k, _ = ew.get_kernel([], [], f32, [(4,)], [], (4,), sums=[("x0", np.float32, False)])
    assert not isinstance(k, ew.TieredKernel)
    k, _ = ew.get_kernel([], ["(np.sqrt(x0) + np.floor(x0))"], f32, [(3,)], f32)
    assert isinstance(k, ew.TieredKernel)


def _special_values(dtype, rng, n=16):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        v = np.array([0.0, -0.0, 1.0, -1.0, np.nan, np.inf, -np.inf, 0.5, -2.5, 3e38, 1e-40, 7.0, -7.0, 2.0, 1e5,
                      -3.0], dtype=dtype)
    elif dtype.kind == "b":
        v = np.array([True, False] * 8)
    else:
        info = np.iinfo(dtype)
        v = np.array([0, 1, -1, 2, 3, -7, 7, info.max, info.min, 5, -5, 100, 0, 1, 2, 3], dtype=np.int64)
        v = v.astype(dtype)
    return v[rng.permutation(n)]


def _cases():
    out = []
    for name, cls in sorted(registered_op_types().items()):
        if not issubclass(cls, ElementwiseOp) or cls.expr is None or name == "Cast":
            continue
        arity = max(k + 1 for k in range(8) if "{%d}" % k in cls.expr)
        dts = [d for kind, d in (("f", tf.float32), ("f", tf.float64), ("i", tf.int32), ("u", tf.uint8),
                                 ("b", tf.bool)) if kind in cls.kinds]
        for d in dts:
            ins = [d] * arity
            if name in ("Select", "SelectV2"):
                ins = [tf.bool] + [d] * (arity - 1)
            out.append(pytest.param(cls, ins, id="%s-%s" % (name, d.name)))
    return out


@pytest.mark.parametrize("op_cls,in_dtypes", _cases())
def test_python_and_compiled_runs_give_the_same_bits(op_cls, in_dtypes, fresh_kernels):
    """Every element-wise op whose tiny kernel runs as Python: the Python run and the
    compiled kernel agree bit for bit on special values (NaN, inf, -0, integer limits)."""
    rng = np.random.default_rng(0)
    in_np = [d.as_numpy_dtype for d in in_dtypes]
    out_np = op_cls.output_dtype(in_dtypes).as_numpy_dtype
    expr = op_cls.scalar_expr(in_dtypes, ["x%d" % i for i in range(len(in_np))])
    k, _ = ew.get_kernel([], [expr], in_np, [(16,)] * len(in_np), [out_np])
    if not isinstance(k, ew.TieredKernel):
        pytest.skip("compiled from the first call (%s)" % expr)
    args = [_special_values(d, rng) for d in in_np]
    compiled = np.empty(16, out_np)
    k.dispatcher(*args, compiled)
    python = np.empty(16, out_np)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning is an exception here: the tiered kernel must fall back
        k(*args, python)
    assert python.tobytes() == compiled.tobytes(), (expr, args, python, compiled)


def test_python_run_warns_nothing(fresh_kernels):
    k, _ = ew.get_kernel([], ["(x0 / x1)"], [np.float32] * 2, [(), ()], [np.float32])
    out = np.empty((), np.float32)
    with warnings.catch_warnings(record=True) as log:
        k(np.array(1.0, np.float32), np.array(0.0, np.float32), out)
        k(np.array(0.0, np.float32), np.array(0.0, np.float32), out)
    assert not k.compiled
    assert not [w for w in log if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in log]


def test_integer_power_with_a_negative_exponent_falls_back_to_the_compiled_kernel(fresh_kernels):
    k, _ = ew.get_kernel([], ["(x0 ** x1)"], [np.int32] * 2, [(), ()], [np.int32])
    assert isinstance(k, ew.TieredKernel)
    out = np.empty((), np.int32)
    k(np.array(3, np.int32), np.array(2, np.int32), out)
    assert out == 9 and not k.compiled
    ref = np.empty((), np.int32)
    k.dispatcher(np.array(2, np.int32), np.array(-1, np.int32), ref)
    k(np.array(2, np.int32), np.array(-1, np.int32), out)  # numpy raises here; Numba computes
    assert k.compiled and out == ref


def test_scalar_schedule_in_a_session_runs_without_compiling(fresh_kernels):
    from numba.core import event

    step = tf.placeholder(tf.int64, [])
    lr = tf.train.exponential_decay(0.1, step, 10, 0.5, staircase=True)
    keep = 1.0 - tf.placeholder_with_default(0.25, [])
    compiled = []

    class Listener(event.Listener):
        def on_start(self, ev):
            compiled.append(ev.data["dispatcher"].py_func.__module__)

        def on_end(self, ev):
            pass

    with event.install_listener("numba:compile", Listener()), tf.Session() as sess:
        for s in (0, 9, 10, 25):
            got = sess.run([lr, keep], {step: s})
            np.testing.assert_allclose(got[0], 0.1 * 0.5 ** (s // 10), rtol=1e-6)
            assert got[1] == np.float32(0.75)
    tiered = [t for t in ew._tiered.values() if t]
    assert tiered and not any(t.compiled for t in tiered)
    assert not [m for m in compiled if m.startswith("nbflow_gen_")], compiled


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint16, np.int64, np.float32, np.float64])
def test_compiled_kernels_read_one_element_inputs_of_every_dtype(dtype):
    """Generated kernels read a one-element input with ``views.first`` and see
    every array through ``views.flat`` (kernels/cpu/views.py)."""
    cond = [np.array(True), np.array([[False]])]
    x = np.arange(20, dtype=np.float64).astype(dtype).reshape(4, 5)
    for c in cond:
        for s in (np.array(1, dtype), np.ones((1, 1), dtype)):
            k, shape = ew.get_kernel([], ["(x1 if x0 else x2)"], [np.bool_, dtype, dtype], [c.shape, x.shape, s.shape],
                                     [dtype])
            assert not isinstance(k, ew.TieredKernel)
            out = np.empty(shape, dtype)
            k(c, x, s, out)
            np.testing.assert_array_equal(out, np.where(c, x, s))
