"""Gradients of element-wise math and reductions, as graph ops."""
import numpy as np

from nbflow.ops.gradient_registry import NotDifferentiable, RegisterGradient
from nbflow.ops import array_ops, math_ops as M, reduction_ops as R
from nbflow.ops.base import Op, apply_op, constant_value


def _static_dims(t):
    return t.shape.as_tuple() if t.shape.is_fully_defined() else None


def reduce_to_shape(grad, x):
    """Sum ``grad`` (of the broadcast output) back to ``x``'s shape.

    Emits nothing when the static shapes already match (as TF's
    SmartBroadcastGradientArgs); otherwise the reduction axes come from a
    BroadcastGradientArgs node that the planner folds with concrete shapes.
    """
    gx, gg = _static_dims(x), _static_dims(grad)
    if gx is not None and gx == gg:
        return grad
    if gx is not None and gg is not None:
        rx, _ = array_ops.broadcast_gradient_axes(gx, gg)
        summed = R.reduce_sum(grad, rx.tolist()) if len(rx) else grad
        return array_ops.reshape(summed, list(gx)) if len(rx) else summed
    sx, sg = array_ops.shape(x), array_ops.shape(grad)
    rx, _ = apply_op(array_ops.BroadcastGradientArgs, [sx, sg])
    out = array_ops.reshape(apply_op(R.Sum, [grad, rx], {"keep_dims": False, "T": grad.dtype}), sx)
    out.set_shape(x.shape)
    return out


def _binary_grads(op, gx, gy):
    x, y = op.inputs
    return reduce_to_shape(gx, x) if gx is not None else None, reduce_to_shape(gy, y) if gy is not None else None


@RegisterGradient("Add")
def _add_grad(op, grad):
    return _binary_grads(op, grad, grad)


@RegisterGradient("AddV2")
def _addv2_grad(op, grad):
    return _binary_grads(op, grad, grad)


@RegisterGradient("Sub")
def _sub_grad(op, grad):
    return _binary_grads(op, grad, M.negative(grad))


@RegisterGradient("Mul")
def _mul_grad(op, grad):
    x, y = op.inputs
    return _binary_grads(op, M.multiply(grad, y), M.multiply(x, grad))


@RegisterGradient("RealDiv")
def _realdiv_grad(op, grad):
    x, y = op.inputs
    return _binary_grads(op, M.realdiv(grad, y), M.negative(M.multiply(grad, M.realdiv(op.outputs[0], y))))


@RegisterGradient("DivNoNan")
def _divnonan_grad(op, grad):
    x, y = op.inputs
    return _binary_grads(op, M.div_no_nan(grad, y), M.negative(M.multiply(grad, M.div_no_nan(op.outputs[0], y))))


@RegisterGradient("FloorMod")
def _floormod_grad(op, grad):
    x, y = op.inputs
    return _binary_grads(op, grad, M.negative(M.multiply(grad, M.floordiv(x, y))))


NotDifferentiable("FloorDiv")


@RegisterGradient("Pow")
def _pow_grad(op, grad):
    x, y = op.inputs
    z = op.outputs[0]
    gx = M.multiply(grad, M.multiply(y, M.pow(x, M.subtract(y, 1))))
    safe_log = M.where_v2(M.greater(x, 0), M.log(M.where_v2(M.greater(x, 0), x, array_ops.ones_like(x))),
                          array_ops.zeros_like(x))
    gy = M.multiply(grad, M.multiply(z, safe_log))
    return _binary_grads(op, gx, gy)


def _minmax_grad(op, grad, select_x):
    x, y = op.inputs
    zeros = array_ops.zeros_like(grad)
    return _binary_grads(op, M.where_v2(select_x, grad, zeros), M.where_v2(select_x, zeros, grad))


@RegisterGradient("Maximum")
def _maximum_grad(op, grad):
    x, y = op.inputs
    return _minmax_grad(op, grad, M.greater_equal(x, y))


@RegisterGradient("Minimum")
def _minimum_grad(op, grad):
    x, y = op.inputs
    return _minmax_grad(op, grad, M.less_equal(x, y))


@RegisterGradient("SquaredDifference")
def _sqdiff_grad(op, grad):
    x, y = op.inputs
    d = M.multiply(M.multiply(grad, 2.0 if x.dtype.is_floating else 2), M.subtract(x, y))
    return _binary_grads(op, d, M.negative(d))


for _t in ("Greater", "Less", "GreaterEqual", "LessEqual", "Equal", "NotEqual", "LogicalAnd", "LogicalOr",
           "LogicalNot", "Invert", "Sign", "Floor", "Ceil", "Round", "Rint", "IsNan", "IsInf", "IsFinite", "Shape",
           "Size", "Rank", "ZerosLike", "OnesLike", "BroadcastGradientArgs", "Range"):
    NotDifferentiable(_t)


@RegisterGradient("Neg")
def _neg_grad(op, grad):
    return M.negative(grad)


@RegisterGradient("Abs")
def _abs_grad(op, grad):
    return M.multiply(grad, M.sign(op.inputs[0]))


@RegisterGradient("Exp")
def _exp_grad(op, grad):
    return M.multiply(grad, op.outputs[0])


@RegisterGradient("Expm1")
def _expm1_grad(op, grad):
    return M.multiply(grad, M.exp(op.inputs[0]))


@RegisterGradient("Log")
def _log_grad(op, grad):
    return M.multiply(grad, M.reciprocal(op.inputs[0]))


@RegisterGradient("Log1p")
def _log1p_grad(op, grad):
    return M.realdiv(grad, M.add(op.inputs[0], 1.0))


@RegisterGradient("Sqrt")
def _sqrt_grad(op, grad):
    return apply_op(M.SqrtGrad, [op.outputs[0], grad])


@RegisterGradient("Rsqrt")
def _rsqrt_grad(op, grad):
    return apply_op(M.RsqrtGrad, [op.outputs[0], grad])


@RegisterGradient("Reciprocal")
def _reciprocal_grad(op, grad):
    return apply_op(M.ReciprocalGrad, [op.outputs[0], grad])


@RegisterGradient("Square")
def _square_grad(op, grad):
    return M.multiply(grad, M.multiply(op.inputs[0], 2.0))


@RegisterGradient("Sin")
def _sin_grad(op, grad):
    return M.multiply(grad, M.cos(op.inputs[0]))


@RegisterGradient("Cos")
def _cos_grad(op, grad):
    return M.negative(M.multiply(grad, M.sin(op.inputs[0])))


@RegisterGradient("Tan")
def _tan_grad(op, grad):
    y = op.outputs[0]
    return M.multiply(grad, M.add(M.square(y), 1.0))


@RegisterGradient("Asin")
def _asin_grad(op, grad):
    x = op.inputs[0]
    return M.multiply(grad, M.rsqrt(M.subtract(1.0, M.square(x))))


@RegisterGradient("Acos")
def _acos_grad(op, grad):
    x = op.inputs[0]
    return M.negative(M.multiply(grad, M.rsqrt(M.subtract(1.0, M.square(x)))))


@RegisterGradient("Atan")
def _atan_grad(op, grad):
    x = op.inputs[0]
    return M.realdiv(grad, M.add(M.square(x), 1.0))


@RegisterGradient("Sinh")
def _sinh_grad(op, grad):
    return M.multiply(grad, M.cosh(op.inputs[0]))


@RegisterGradient("Cosh")
def _cosh_grad(op, grad):
    return M.multiply(grad, M.sinh(op.inputs[0]))


@RegisterGradient("Erf")
def _erf_grad(op, grad):
    x = op.inputs[0]
    k = np.asarray(2.0 / np.sqrt(np.pi), dtype=x.dtype.as_numpy_dtype)
    return M.multiply(grad, M.multiply(M.exp(M.negative(M.square(x))), k))


@RegisterGradient("Tanh")
def _tanh_grad(op, grad):
    return apply_op(M.TanhGrad, [op.outputs[0], grad])


@RegisterGradient("Sigmoid")
def _sigmoid_grad(op, grad):
    return apply_op(M.SigmoidGrad, [op.outputs[0], grad])


@RegisterGradient("TanhGrad")
def _tanhgrad_grad(op, grad):
    y, dy = op.inputs
    return (M.multiply(M.multiply(grad, dy), M.multiply(y, -2.0)),
            apply_op(M.TanhGrad, [y, grad]))


@RegisterGradient("SigmoidGrad")
def _sigmoidgrad_grad(op, grad):
    y, dy = op.inputs
    # d/dy [dy*y*(1-y)] = dy*(1-2y)
    return (M.multiply(M.multiply(grad, dy), M.subtract(1.0, M.multiply(y, 2.0))),
            apply_op(M.SigmoidGrad, [y, grad]))


@RegisterGradient("SqrtGrad")
def _sqrtgrad_grad(op, grad):
    # out = dy * 0.5 / y: d/dy_in = 0.5 / y, d/dy = -out / y
    y = op.inputs[0]
    ga = M.realdiv(grad, y)
    return M.negative(M.multiply(ga, op.outputs[0])), M.multiply(ga, 0.5)


@RegisterGradient("RsqrtGrad")
def _rsqrtgrad_grad(op, grad):
    # out = -0.5 * dy * y^3: d/dy = -1.5 * dy * y^2, d/dy_in = -0.5 * y^3
    y, dy = op.inputs
    return (M.multiply(M.multiply(grad, dy), M.multiply(M.square(y), -1.5)),
            apply_op(M.RsqrtGrad, [y, grad]))


@RegisterGradient("ReciprocalGrad")
def _reciprocalgrad_grad(op, grad):
    # out = -dy * y^2: d/dy = -2 * dy * y, d/dy_in = -y^2
    y, dy = op.inputs
    return (M.multiply(M.multiply(grad, dy), M.multiply(y, -2.0)),
            apply_op(M.ReciprocalGrad, [y, grad]))


@RegisterGradient("Cast")
def _cast_grad(op, grad):
    src = op.inputs[0].dtype
    if src.is_floating and op.outputs[0].dtype.is_floating:
        return M.cast(grad, src)
    return None


@RegisterGradient("Select")
@RegisterGradient("SelectV2")
def _select_grad(op, grad):
    c, x, y = op.inputs
    zeros = array_ops.zeros_like(grad)
    return (None, reduce_to_shape(M.where_v2(c, grad, zeros), x),
            reduce_to_shape(M.where_v2(c, zeros, grad), y))


@RegisterGradient("AddN")
def _addn_grad(op, grad):
    return [grad] * len(op.inputs)


@RegisterGradient("BroadcastTo")
def _broadcast_to_grad(op, grad):
    return reduce_to_shape(grad, op.inputs[0]), None


# -- reductions ---------------------------------------------------------------------

def _kept_shape(op):
    """The reduced tensor's shape with reduced dims kept as 1 (static list or Tensor)."""
    x, axes = op.inputs
    dims = x.shape.as_tuple()
    axes_v = constant_value(axes)
    if dims is not None and None not in dims and axes_v is not None:
        ax = R.normalize_axes(axes_v, len(dims))
        return [1 if i in ax else d for i, d in enumerate(dims)]
    return apply_op(_KeptShape, [array_ops.shape(x), axes])


class _KeptShape(Op):
    """shape(x) with the reduced axes set to 1 (TF's reduced_shape helper; CPU kernel in
    nbflow/backends/cpu/math.py)."""

    type = "ReducedShape"
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        return [(ctx.input_dtypes[0], ctx.input_shapes[0])]


NotDifferentiable("ReducedShape")


def _broadcast_back(op, grad):
    x = op.inputs[0]
    g = array_ops.reshape(grad, _kept_shape(op))
    target = list(x.shape.as_tuple()) if x.shape.is_fully_defined() else array_ops.shape(x)
    return array_ops.broadcast_to(g, target)


@RegisterGradient("Sum")
def _sum_grad(op, grad):
    return _broadcast_back(op, grad), None


@RegisterGradient("Mean")
def _mean_grad(op, grad):
    x, y = op.inputs[0], op.outputs[0]
    nx, ny = x.shape.num_elements(), y.shape.num_elements()
    if nx is not None and ny is not None:
        factor = np.asarray(max(nx // max(ny, 1), 1), dtype=grad.dtype.as_numpy_dtype)
    else:
        factor = M.cast(M.maximum(M.floordiv(array_ops.size(x), M.maximum(array_ops.size(y), 1)), 1), grad.dtype)
    return M.realdiv(_broadcast_back(op, grad), factor) if grad.dtype.is_floating else None, None


def _minmax_reduce_grad(op, grad):
    x, y = op.inputs[0], op.outputs[0]
    y_b = _broadcast_back_value(op, y)
    g_b = _broadcast_back(op, grad)
    indicators = M.cast(M.equal(x, y_b), grad.dtype)
    count = _broadcast_back_value(op, R.reduce_sum(indicators, op.inputs[1], keepdims=op.attrs["keep_dims"]))
    return M.multiply(M.realdiv(indicators, count), g_b), None


def _broadcast_back_value(op, t):
    x = op.inputs[0]
    g = array_ops.reshape(t, _kept_shape(op))
    target = list(x.shape.as_tuple()) if x.shape.is_fully_defined() else array_ops.shape(x)
    return array_ops.broadcast_to(g, target)


@RegisterGradient("Max")
def _max_grad(op, grad):
    return _minmax_reduce_grad(op, grad)


@RegisterGradient("Min")
def _min_grad(op, grad):
    return _minmax_reduce_grad(op, grad)


@RegisterGradient("Prod")
def _prod_grad(op, grad):
    # d prod / d x_i = prod / x_i, computed without dividing by zero:
    # product of all other elements = exclusive cumprod from left * from right.
    x = op.inputs[0]
    y_b = _broadcast_back_value(op, op.outputs[0])
    g_b = _broadcast_back(op, grad)
    safe = M.where_v2(M.equal(x, 0), array_ops.ones_like(x), x)
    n_zero = _broadcast_back_value(
        op, R.reduce_sum(M.cast(M.equal(x, 0), x.dtype), op.inputs[1], keepdims=op.attrs["keep_dims"]))
    prod_nonzero = _broadcast_back_value(
        op, R.reduce_prod(safe, op.inputs[1], keepdims=op.attrs["keep_dims"]))
    # no zeros: y / x; one zero: at the zero, product of the others; elsewhere 0.
    others = M.where_v2(M.equal(n_zero, 0), M.realdiv(y_b, safe),
                        M.where_v2(M.logical_and(M.equal(n_zero, 1), M.equal(x, 0)), prod_nonzero,
                                   array_ops.zeros_like(x)))
    return M.multiply(g_b, others), None


for _t in ("Any", "All"):
    NotDifferentiable(_t)


for _t in ("ArgMax", "ArgMin"):
    NotDifferentiable(_t)


@RegisterGradient("EuclideanNorm")
def _euclidean_norm_grad(op, grad):
    # d sqrt(sum x^2) / dx = x / norm (0 where the norm is 0: a subgradient)
    x = op.inputs[0]
    y_b = _broadcast_back_value(op, op.outputs[0])
    return M.multiply(_broadcast_back(op, grad), M.div_no_nan(x, y_b)), None


# -- scans ------------------------------------------------------------------------------

@RegisterGradient("Cumsum")
def _cumsum_grad(op, grad):
    # each x_i feeds every later (earlier when reverse) output: a scan the other way
    return R.cumsum(grad, op.inputs[1], exclusive=op.attrs["exclusive"], reverse=not op.attrs["reverse"]), None


@RegisterGradient("Cumprod")
def _cumprod_grad(op, grad):
    """Gradient of y = cumprod(x), exact with zeros in x (TF divides by x).

    Along the scan direction, let c_i count the zeros in x_0..x_i. Where c_i = 0,
    dL/dx_i = (sum over j fed by x_i of g_j y_j) / x_i. At the first zero (c_i = 1),
    dL/dx_i = sum over j fed by x_i of g_j * (product of the other factors of y_j),
    which is cumprod of x with the zero replaced by 1, up to the next zero.
    After the first zero every product contains it: 0.
    """
    x, axis = op.inputs
    excl, rev = op.attrs["exclusive"], op.attrs["reverse"]
    y = op.outputs[0]
    is_zero = M.equal(x, array_ops.zeros_like(x))
    zeros_count = M.cast(is_zero, x.dtype)
    c_in = R.cumsum(zeros_count, axis, exclusive=False, reverse=rev)   # zeros up to and including i
    c_y = R.cumsum(zeros_count, axis, exclusive=excl, reverse=rev)     # zeros among the factors of y_i
    safe = M.where_v2(is_zero, array_ops.ones_like(x), x)
    before_zero = M.realdiv(R.cumsum(M.multiply(grad, y), axis, exclusive=excl, reverse=not rev), safe)
    y_skip = R.cumprod(safe, axis, exclusive=excl, reverse=rev)
    one = array_ops.ones_like(x)
    at_zero = R.cumsum(M.multiply(M.multiply(grad, y_skip), M.cast(M.less_equal(c_y, one), x.dtype)), axis,
                       exclusive=excl, reverse=not rev)
    zero = array_ops.zeros_like(x)
    first_zero = M.logical_and(is_zero, M.equal(c_in, one))
    return M.where_v2(M.equal(c_in, zero), before_zero, M.where_v2(first_zero, at_zero, zero)), None
