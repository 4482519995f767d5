"""Gradients of element-wise math, as graph ops."""
import numpy as np

from nbflow.ops.gradient_registry import NotDifferentiable, RegisterGradient
from nbflow.ops import array_ops, math_ops as M
from nbflow.ops.base import apply_op
from nbflow.ops.broadcast_ops import reduce_to_shape


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
