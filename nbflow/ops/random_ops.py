"""Random ops: RandomUniform, RandomUniformInt, RandomStandardNormal,
TruncatedNormal, RandomShuffle, Multinomial, and TF 1.x's seeding rules.

Seeds follow ``tf.compat.v1.get_seed``: every random op carries two attrs,
``seed`` (the graph-level seed) and ``seed2`` (the op-level seed).

* graph seed set, op seed None: the op seed is the graph's ``_last_id`` (a
  counter of created ops), so rebuilding the same graph gives the same streams;
* graph seed None, op seed set: the graph seed is ``DEFAULT_GRAPH_SEED``;
* both None: (0, 0), which the runtime reads as "fresh entropy".

RNG uses numpy's ``Generator`` (PCG64), not Numba, by design (see
docs/ARCHITECTURE.md, "Random number kernels use numpy's Generator"): each
random op gets its own stream per Session from a RandomStream resource (nbflow/state/resources.py),
seeded from (seed, seed2). Random ops are ``stateful``: never folded, never
merged by CSE, and the executor runs each op once per ``Session.run``, so all
consumers of a random tensor see one value per run and every run draws anew.
"""
import numpy as np

from nbflow.ops.gradient_registry import GradientNotImplemented
from nbflow.framework.eager_tensor import EagerTensor
from nbflow.framework import context, dtypes
from nbflow.framework.graph import Tensor, get_default_graph, name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import math_ops as M
from nbflow.ops.base import Op, apply_op, convert_to_tensor
from nbflow.state.resources import eager_resources

__all__ = ["random_uniform", "random_normal", "truncated_normal", "random_shuffle", "multinomial",
           "set_random_seed", "get_seed"]

DEFAULT_GRAPH_SEED = 87654321
_MAXINT32 = 2 ** 31 - 1


# -- seeds ----------------------------------------------------------------------

def _truncate_seed(seed):
    return int(seed) % _MAXINT32  # seeds must fit in an int32


def get_seed(op_seed):
    """``tf.get_seed``: the (graph seed, op seed) pair a random op uses.

    Returns (None, None) when neither the graph nor the op has a seed. In eager mode
    the global seed is tf.random.set_seed's, and ops without their own seed draw
    from one stream of the global seed (restarted by set_seed), as TF 2."""
    if context.executing_eagerly():
        global_seed = context.eager_seed()
        if global_seed is not None and op_seed is None:
            op_seed = _EAGER_GLOBAL_STREAM
    else:
        graph = get_default_graph()
        global_seed = graph.seed
        if global_seed is not None and op_seed is None:
            op_seed = graph._last_id
    if global_seed is not None:
        seeds = _truncate_seed(global_seed), _truncate_seed(op_seed)
    else:
        if op_seed is not None:
            seeds = DEFAULT_GRAPH_SEED, _truncate_seed(op_seed)
        else:
            seeds = None, None
    # (0, 0) means "nondeterministic" to the kernels; a user's explicit zeros must not.
    if seeds == (0, 0):
        return 0, _MAXINT32
    return seeds


#: the op seed of eager random ops without one when a global seed is set
_EAGER_GLOBAL_STREAM = 0x5EED


def set_random_seed(seed):
    """``tf.set_random_seed``: the graph-level seed of the default graph; in eager mode the
    global seed, which restarts every seeded eager random stream."""
    if context.executing_eagerly():
        context.set_eager_seed(None if seed is None else int(seed))
        resources = eager_resources()
        for handle in resources.handles("random"):
            resources.get(handle).reset()
        return
    get_default_graph().seed = None if seed is None else int(seed)


def _seed_attrs(seed):
    s1, s2 = get_seed(seed)
    return {"seed": s1 or 0, "seed2": s2 or 0}


# -- shapes ---------------------------------------------------------------------

def _shape_tensor(shape):
    """A shape argument (list, tuple, TensorShape, array or 1-D int Tensor) as
    an int32/int64 Tensor named "shape" (TF's tensor_util.shape_tensor)."""
    if isinstance(shape, Tensor):
        if shape.dtype not in (dtypes.int32, dtypes.int64):
            raise TypeError("shape must be an int32 or int64 tensor, got %s" % shape.dtype.name)
        return shape
    if isinstance(shape, TensorShape):
        if not shape.is_fully_defined():
            raise ValueError("Cannot use a partially known shape %s as the shape of a random tensor" % shape)
        shape = shape.as_list()
    if isinstance(shape, (list, tuple)) and not shape:
        return convert_to_tensor(np.zeros([0], dtype=np.int32), name="shape")
    if isinstance(shape, (list, tuple)) and any(d is None for d in shape):
        raise ValueError("Cannot use a partially known shape %s as the shape of a random tensor" % (shape,))
    arr = np.asarray(shape)
    if arr.dtype.kind not in "iu":
        raise TypeError("shape must be a list of integers, got %r" % (shape,))
    return convert_to_tensor(arr.astype(np.int64 if arr.dtype == np.int64 and arr.size
                                        and arr.max() > np.iinfo(np.int32).max else np.int32), name="shape")


def _set_static_shape(result, shape):
    """TF's maybe_set_static_shape: a shape given as ``tf.shape(x)`` is x's
    (partially known) static shape."""
    if isinstance(shape, EagerTensor):
        return result  # eager: the result's shape is known
    if shape.op.type == "Shape" and shape.op.inputs[0].shape.ndims is not None:
        result.set_shape(shape.op.inputs[0].shape)
    return result


def _shape_from_input(ctx, i=0):
    """The static output shape given by a shape input."""
    r = ctx.input_shapes[i]
    if r.ndims is not None and r.ndims != 1:
        raise ctx.error("Shape must be rank 1 but is rank %d" % r.ndims)
    v = ctx.value(i)
    if v is not None:
        dims = [int(d) for d in np.asarray(v).reshape(-1)]
        if any(d < 0 for d in dims):
            raise ctx.error("Shape %s must have non-negative dimensions" % dims)
        return TensorShape(dims)
    n = r.as_tuple()
    if n is not None and n[0] is not None:
        return TensorShape([None] * n[0])
    return TensorShape(None)


def _dims_value(shape_value):
    dims = tuple(int(d) for d in np.asarray(shape_value).reshape(-1))
    if any(d < 0 for d in dims):
        raise ValueError("Shape %s must have non-negative dimensions" % (list(dims),))
    return dims


# -- ops ------------------------------------------------------------------------

class _RandomOp(Op):
    """Base of the random ops: stateful, not differentiable, fresh buffers."""

    stateful = True
    differentiable = False
    outputs_alias_inputs = False


class RandomUniform(_RandomOp):
    """Uniform floats in [0, 1). Input: shape. Attrs: dtype, seed, seed2."""

    type = "RandomUniform"

    @classmethod
    def infer(cls, ctx):
        return [(ctx.attrs["dtype"], _shape_from_input(ctx))]


class RandomStandardNormal(_RandomOp):
    """Standard normal floats. Input: shape. Attrs: dtype, seed, seed2."""

    type = "RandomStandardNormal"
    infer = RandomUniform.infer


class TruncatedNormal(RandomStandardNormal):
    """Standard normal floats, redrawn until within two standard deviations."""

    type = "TruncatedNormal"


class RandomUniformInt(_RandomOp):
    """Uniform integers in [minval, maxval). Inputs: shape, minval, maxval (scalars)."""

    type = "RandomUniformInt"

    @classmethod
    def infer(cls, ctx):
        for i, what in ((1, "minval"), (2, "maxval")):
            r = ctx.input_shapes[i].ndims
            if r is not None and r != 0:
                raise ctx.error("%s must be 0-D, got shape %s" % (what, ctx.input_shapes[i]))
        lo, hi = ctx.value(1), ctx.value(2)
        if lo is not None and hi is not None and not lo < hi:
            raise ctx.error("Need minval < maxval: %s >= %s" % (lo, hi))
        return [(ctx.input_dtypes[1], _shape_from_input(ctx))]


class RandomShuffle(_RandomOp):
    """A random permutation of the first dimension. Input: value."""

    type = "RandomShuffle"
    differentiable = True  # but TF registers no gradient for it (below): tf.gradients raises LookupError

    @classmethod
    def infer(cls, ctx):
        return [(ctx.input_dtypes[0], ctx.input_shapes[0])]


class Multinomial(_RandomOp):
    """Samples class indices from unnormalized log-probabilities.

    Inputs: logits [batch, classes], num_samples (int32 scalar).
    Attrs: seed, seed2, output_dtype (int32/int64)."""

    type = "Multinomial"

    @classmethod
    def infer(cls, ctx):
        if not ctx.input_dtypes[0].is_floating:
            raise TypeError("logits of '%s' must be floating point, got %s" % (ctx.name, ctx.input_dtypes[0].name))
        dims = ctx.dims(0)
        if dims is not None and len(dims) != 2:
            raise ctx.error("logits should be a matrix, got shape %s" % ctx.input_shapes[0])
        r = ctx.input_shapes[1].ndims
        if r is not None and r != 0:
            raise ctx.error("num_samples should be a scalar, got shape %s" % ctx.input_shapes[1])
        ns = ctx.value(1)
        if ns is not None and int(ns) < 0:
            raise ctx.error("num_samples should be nonnegative, got %d" % int(ns))
        batch = dims[0] if dims is not None else None
        return [(ctx.attrs["output_dtype"], TensorShape([batch, None if ns is None else int(ns)]))]


GradientNotImplemented("RandomShuffle", "the permutation drawn is not kept (TF has no gradient for it either)")


# -- public functions -------------------------------------------------------------

_UNIFORM_DTYPES = (dtypes.float16, dtypes.float32, dtypes.float64, dtypes.int32, dtypes.int64)
_FLOAT_DTYPES = (dtypes.float16, dtypes.float32, dtypes.float64)


def _float_dtype(dtype, what):
    dtype = dtypes.as_dtype(dtype)
    if dtype not in _FLOAT_DTYPES:
        raise ValueError("Invalid dtype %s for %s: expected float16, float32 or float64" % (dtype.name, what))
    return dtype


def random_uniform(shape, minval=0, maxval=None, dtype=dtypes.float32, seed=None, name=None):
    """Uniform values in [minval, maxval) (for floats the default range is [0, 1);
    integer dtypes need ``maxval``)."""
    dtype = dtypes.as_dtype(dtype)
    if dtype not in _UNIFORM_DTYPES:
        raise ValueError("Invalid dtype %r" % dtype)
    if maxval is None:
        if dtype.is_integer:
            raise ValueError("Must specify maxval for integer dtype %r" % dtype)
        maxval = 1
    with name_scope(name, "random_uniform", [shape, minval, maxval]) as scope:
        shape = _shape_tensor(shape)
        minval = convert_to_tensor(minval, dtype=dtype, name="min")
        maxval = convert_to_tensor(maxval, dtype=dtype, name="max")
        attrs = _seed_attrs(seed)
        if dtype.is_integer:
            attrs.update({"T": shape.dtype, "Tout": dtype})
            return _set_static_shape(apply_op(RandomUniformInt, [shape, minval, maxval], attrs, name=scope), shape)
        attrs.update({"T": shape.dtype, "dtype": dtype})
        rnd = _set_static_shape(apply_op(RandomUniform, [shape], attrs, name="RandomUniform"), shape)
        return M.add(rnd * (maxval - minval), minval, name=scope)


def _normal(op_cls, default_name, shape, mean, stddev, dtype, seed, name):
    dtype = _float_dtype(dtype, default_name)
    with name_scope(name, default_name, [shape, mean, stddev]) as scope:
        shape = _shape_tensor(shape)
        mean = convert_to_tensor(mean, dtype=dtype, name="mean")
        stddev = convert_to_tensor(stddev, dtype=dtype, name="stddev")
        attrs = _seed_attrs(seed)
        attrs.update({"T": shape.dtype, "dtype": dtype})
        rnd = _set_static_shape(apply_op(op_cls, [shape], attrs, name=op_cls.type), shape)
        return M.add(rnd * stddev, mean, name=scope)


def random_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """Normally distributed values with the given mean and standard deviation."""
    return _normal(RandomStandardNormal, "random_normal", shape, mean, stddev, dtype, seed, name)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """Normal values, redrawn where they fall more than 2 stddev from the mean."""
    return _normal(TruncatedNormal, "truncated_normal", shape, mean, stddev, dtype, seed, name)


def random_shuffle(value, seed=None, name=None):
    """Randomly permutes ``value`` along its first dimension."""
    value = convert_to_tensor(value)
    attrs = _seed_attrs(seed)
    attrs["T"] = value.dtype
    return apply_op(RandomShuffle, [value], attrs, name=name or "RandomShuffle")


def _multinomial(logits, num_samples, output_dtype, seed):
    logits = convert_to_tensor(logits, name="logits")
    output_dtype = dtypes.as_dtype(output_dtype or dtypes.int64)
    if output_dtype not in (dtypes.int32, dtypes.int64):
        raise TypeError("output_dtype must be int32 or int64, got %s" % output_dtype.name)
    num_samples = num_samples if isinstance(num_samples, Tensor) else \
        convert_to_tensor(num_samples, dtype=dtypes.int32, name="num_samples")
    if num_samples.dtype is not dtypes.int32:
        raise TypeError("num_samples must be an int32 scalar, got %s" % num_samples.dtype.name)
    attrs = _seed_attrs(seed)
    attrs.update({"T": logits.dtype, "output_dtype": output_dtype})
    return apply_op(Multinomial, [logits, num_samples], attrs, name="Multinomial")


def multinomial(logits, num_samples, seed=None, name=None, output_dtype=None):
    """Samples ``num_samples`` class indices per row of ``logits`` ([batch, classes],
    unnormalized log-probabilities): a [batch, num_samples] int64 tensor."""
    with name_scope(name, "multinomial", [logits]):
        return _multinomial(logits, num_samples, output_dtype, seed)


def categorical(logits, num_samples, dtype=None, seed=None, name=None):
    """``tf.random.categorical``: as ``multinomial``, with ``dtype`` for the output."""
    with name_scope(name, "categorical", [logits]):
        return _multinomial(logits, num_samples, dtype, seed)
