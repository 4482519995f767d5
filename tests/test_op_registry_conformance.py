"""Conformance over the whole op registry: every op type is checked, so a new op
cannot skip these. They are also the test matrix of any new device backend.

- every op type has a registered gradient or is declared not differentiable (not both);
- every op type has a CPU kernel;
- every ElementwiseOp gives the same result fused, unfused and as a numpy
  reference of its scalar expression (float32 and float64, broadcasting);
- second derivatives work where the gradient ops are differentiable (finite
  differences on a sample), and elsewhere the error names the op.
"""
import numpy as np
import pytest

import nbflow as tf
from nbflow.backends import registry
from nbflow.ops import gradient_registry
from nbflow.ops.base import apply_op, registered_op_types
from nbflow.ops.elementwise import ElementwiseOp

ALL_TYPES = sorted(registered_op_types().items())
ELEMENTWISE = [(t, c) for t, c in ALL_TYPES if issubclass(c, ElementwiseOp)]

# Attributes some element-wise ops need to be built (any new one fails the test
# until it is listed here).
BOOL_FIRST_INPUT = ("Select", "SelectV2")
SAME_SHAPES = ("Select",)
ELEMENTWISE_ATTRS = {"Cast": lambda dt: {"DstT": tf.float64 if dt is tf.float32 else tf.float32, "Truncate": False}}


@pytest.mark.parametrize("op_type,op_cls", ALL_TYPES, ids=[t for t, _ in ALL_TYPES])
def test_every_op_type_has_a_gradient_or_is_declared_not_differentiable(op_type, op_cls):
    kinds = [gradient_registry.has_gradient(op_type), gradient_registry.is_declared_not_differentiable(op_type),
             gradient_registry.is_declared_not_implemented(op_type)]
    assert any(kinds), ("op type %s has no gradient and is declared neither not differentiable nor "
                        "GradientNotImplemented" % op_type)
    assert sum(kinds) == 1, "op type %s is declared more than one way in the gradient registry" % op_type


@pytest.mark.parametrize("op_type,op_cls", ALL_TYPES, ids=[t for t, _ in ALL_TYPES])
def test_every_op_type_has_a_cpu_kernel(op_type, op_cls):
    assert registry.has_kernel(op_cls, "CPU"), "op type %s has no CPU kernel" % op_type


def _arity(op_cls):
    """Inputs of the op: from its expression's {0}, {1}, ...; three for a variadic one (AddN)."""
    if op_cls.expr is None:
        return 3
    return max(k + 1 for k in range(8) if "{%d}" % k in op_cls.expr)


def _inputs_for(op_cls, dtype, rng, shapes):
    kinds = op_cls.kinds
    arity = _arity(op_cls)
    if op_cls.expr is None or op_cls.type in SAME_SHAPES:  # variadic ops, TF1 Select: one shape
        shapes = shapes[:1]
    if "f" in kinds:
        np_dt = dtype.as_numpy_dtype
        make = lambda s: rng.uniform(0.1, 2.0, size=s).astype(np_dt)  # noqa: E731
        tf_dt = dtype
    elif "i" in kinds:
        make = lambda s: rng.integers(1, 9, size=s).astype(np.int32)  # noqa: E731
        tf_dt = tf.int32
    else:
        make = lambda s: rng.integers(0, 2, size=s).astype(bool)  # noqa: E731
        tf_dt = tf.bool
    values = [make(shapes[min(i, len(shapes) - 1)]) for i in range(arity)]
    if op_cls.type in BOOL_FIRST_INPUT:  # a condition, then the values it picks from
        values[0] = rng.integers(0, 2, size=values[0].shape).astype(bool)
        return values, [tf.bool] + [tf_dt] * (arity - 1)
    return values, [tf_dt] * arity


def _reference(op_cls, in_dtypes, values):
    """The op's scalar expression evaluated element by element with numpy scalars."""
    expr = op_cls.scalar_expr_for(in_dtypes, ["a%d" % i for i in range(len(values))], [None] * len(values))
    expr = expr.replace("fastmath.exp32(", "np.exp(").replace("fastmath.log32(", "np.log(") \
        .replace("fastmath.sin32(", "np.sin(").replace("fastmath.cos32(", "np.cos(") \
        .replace("fastmath.tanh32(", "np.tanh(")
    broadcast = np.broadcast_arrays(*values)
    out = np.empty(broadcast[0].shape, dtype=object)
    with np.errstate(all="ignore"):
        for idx in np.ndindex(out.shape):
            env = {"np": np, "math": __import__("math")}
            env.update({"a%d" % i: b[idx] for i, b in enumerate(broadcast)})
            out[idx] = eval(expr, env)  # noqa: S307  (our own generated expression)
    return out


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("op_type,op_cls", ELEMENTWISE, ids=[t for t, _ in ELEMENTWISE])
def test_elementwise_op_fused_unfused_and_numpy_agree(op_type, op_cls, dtype):
    rng = np.random.default_rng(abs(hash(op_type)) % 2 ** 32)
    values, tf_dts = _inputs_for(op_cls, dtype, rng, [(3, 4), (4,), (1, 4)])
    attrs = ELEMENTWISE_ATTRS.get(op_type, lambda dt: {})(tf_dts[-1])
    g = tf.Graph()
    with g.as_default():
        phs = [tf.placeholder(dt, v.shape) for dt, v in zip(tf_dts, values)]
        y = apply_op(op_cls, phs, dict(attrs))
        # a second element-wise op after it, so the fused plan has a group of two
        z = (tf.cast(y, tf.float64) if y.dtype is not tf.float64 else y) * np.float64(2.0)
        feed = dict(zip(phs, values))
        with tf.Session(graph=g) as fused_sess:
            plan = fused_sess.plan_for(z, feed)
            fused = fused_sess.run(z, feed)
        no_fusion = tf.ConfigProto(nbflow_disabled_passes=["fusion"])
        with tf.Session(graph=g, config=no_fusion) as plain_sess:
            unfused = plain_sess.run(y, feed)
    assert plan.fused_groups, "%s did not fuse with a following element-wise op" % op_type
    ref = _reference(op_cls, tf_dts, values).astype(unfused.dtype)
    tol = dict(rtol=2e-6, atol=1e-6) if tf.float32 in tf_dts else dict(rtol=1e-12, atol=1e-12)
    if unfused.dtype.kind == "f":
        np.testing.assert_allclose(unfused, ref, equal_nan=True, **tol)
        np.testing.assert_allclose(fused, 2 * unfused.astype(np.float64), equal_nan=True, **tol)
    else:
        np.testing.assert_array_equal(unfused, ref)
        np.testing.assert_array_equal(fused, 2 * unfused.astype(np.float64))


# -- second derivatives -------------------------------------------------------

SECOND_ORDER_SAMPLE = {
    "Sqrt": lambda x: tf.sqrt(x),
    "Rsqrt": lambda x: tf.rsqrt(x),
    "Tanh": lambda x: tf.tanh(x),
    "Sigmoid": lambda x: tf.sigmoid(x),
    "Exp": lambda x: tf.exp(x),
    "Log": lambda x: tf.log(x),
    "Square": lambda x: tf.square(x),
    "Reciprocal": lambda x: tf.reciprocal(x),
    "Softplus": lambda x: tf.nn.softplus(x),
    "Mul": lambda x: x * x * x,
    "MatMul": lambda x: tf.matmul(tf.reshape(x, [2, 2]), tf.reshape(x, [2, 2])),
    "Softmax": lambda x: tf.nn.softmax(tf.reshape(x, [1, 4])),
    "Relu": lambda x: tf.nn.relu(x) * x,
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER_SAMPLE))
def test_second_derivative_matches_finite_differences(name):
    build = SECOND_ORDER_SAMPLE[name]
    x0 = np.array([0.7, 1.3, 0.45, 1.9])
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float64, [4])
        (dx,) = tf.gradients(tf.reduce_sum(build(x)), x)
        with tf.Session(graph=g):
            err = tf.test.compute_gradient_error(x, [4], dx, [4], x_init_value=x0.copy(), delta=1e-6)
    assert err < 1e-5, "second derivative through %s is off by %g" % (name, err)


def test_second_derivative_through_an_op_without_one_names_the_op():
    from nbflow.ops.base import Op

    class NbflowTestFirstOrderOnly(Op):
        type = "NbflowTestFirstOrderOnly"

        @classmethod
        def infer(cls, ctx):
            return [(ctx.input_dtypes[0], ctx.input_shapes[0])]

    x = tf.placeholder(tf.float64, [])
    y = apply_op(NbflowTestFirstOrderOnly, [x], name="first_order_only")
    with pytest.raises(LookupError, match="first_order_only.*NbflowTestFirstOrderOnly"):
        tf.gradients(y, x)
