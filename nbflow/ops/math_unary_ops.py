"""Functions of one tensor: Abs, Sign, Floor, Ceil, Round, Rint, Exp, Log,
Log1p, Expm1, Sqrt, Rsqrt, Square, Reciprocal, the trigonometric and
hyperbolic functions, Erf, Sigmoid (and log_sigmoid); their backward ops
SigmoidGrad, TanhGrad, SqrtGrad, RsqrtGrad and ReciprocalGrad (TF's names and
argument order; each has a gradient of its own, for second derivatives); and
Pow (x ** y), whose gradient is built from Log.

Every op is one scalar expression (see ops/elementwise.py); the gradients are
here.
"""
from functools import partial

import numpy as np

from nbflow.ops.array_fill_ops import ones_like, zeros_like
from nbflow.ops.base import apply_op, convert_to_tensor
from nbflow.ops.elementwise import FLOAT
from nbflow.ops.gradient_registry import NotDifferentiable, RegisterGradient
from nbflow.ops.math_binary_ops import _binary_grads, add, maximum, multiply, negative, realdiv, subtract
from nbflow.ops.math_common import _binary, _unary, elementwise_class
from nbflow.ops.math_compare_ops import greater
from nbflow.ops.math_select_ops import where_v2

__all__ = [
    "pow", "abs", "sign", "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "square", "reciprocal", "sin", "cos",
    "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "sigmoid", "floor", "ceil", "round", "rint", "erf",
    "log_sigmoid",
]

_ew = partial(elementwise_class, __name__)

Abs = _ew("Abs", "abs({0})")
Sign = _ew("Sign", "({T}(1) if {0} > {T}(0) else ({T}(-1) if {0} < {T}(0) else {0}))")
Exp = _ew("Exp", "np.exp({0})", FLOAT)
Log = _ew("Log", "np.log({0})", FLOAT)
Log1p = _ew("Log1p", "np.log1p({0})", FLOAT)
Expm1 = _ew("Expm1", "np.expm1({0})", FLOAT)
Sqrt = _ew("Sqrt", "np.sqrt({0})", FLOAT)
Rsqrt = _ew("Rsqrt", "{T}(1) / np.sqrt({0})", FLOAT)
Square = _ew("Square", "{0} * {0}")
Reciprocal = _ew("Reciprocal", "{T}(1) / {0}", FLOAT)
Sin = _ew("Sin", "np.sin({0})", FLOAT)
Cos = _ew("Cos", "np.cos({0})", FLOAT)
Tan = _ew("Tan", "np.tan({0})", FLOAT)
Asin = _ew("Asin", "np.arcsin({0})", FLOAT)
Acos = _ew("Acos", "np.arccos({0})", FLOAT)
Atan = _ew("Atan", "np.arctan({0})", FLOAT)
Sinh = _ew("Sinh", "np.sinh({0})", FLOAT)
Cosh = _ew("Cosh", "np.cosh({0})", FLOAT)
Tanh = _ew("Tanh", "np.tanh({0})", FLOAT)
Erf = _ew("Erf", "math.erf({0})", FLOAT)
# Stable for large |x|: exp(-x) overflows to inf and 1/inf is 0.
Sigmoid = _ew("Sigmoid", "{T}(1) / ({T}(1) + np.exp(-{0}))", FLOAT)
Floor = _ew("Floor", "np.floor({0})", FLOAT)
Ceil = _ew("Ceil", "np.ceil({0})", FLOAT)
Round = _ew("Round", "np.rint({0})", FLOAT)  # banker's rounding, as TF
Rint = _ew("Rint", "np.rint({0})", FLOAT)

# -- backward kernels of element-wise ops (TF's names and argument order) -----
SigmoidGrad = _ew("SigmoidGrad", "{1} * {0} * ({T}(1) - {0})", FLOAT)      # (y, dy)
TanhGrad = _ew("TanhGrad", "{1} * ({T}(1) - {0} * {0})", FLOAT)           # (y, dy)
SqrtGrad = _ew("SqrtGrad", "{1} * {T}(0.5) / {0}", FLOAT)                 # (y, dy)
RsqrtGrad = _ew("RsqrtGrad", "{1} * {T}(-0.5) * {0} * {0} * {0}", FLOAT)  # (y, dy)
ReciprocalGrad = _ew("ReciprocalGrad", "-{1} * {0} * {0}", FLOAT)         # (y, dy)


# x ** y with a known small exponent becomes multiplications (pow() is a
# scalar libm call that stops the loop from vectorizing).
_POW_SPECIAL = {2.0: "{0} * {0}", 1.0: "{0}", 3.0: "{0} * {0} * {0}", 0.5: "np.sqrt({0})",
                -1.0: "{T}(1) / {0}", -2.0: "{T}(1) / ({0} * {0})"}


def _pow_expr_for(cls, values):
    e = values[1]
    if e is None or np.size(e) != 1:
        return None
    e = np.asarray(e).reshape(())
    if e.dtype.kind != "f" and e < 0:
        return None  # integer powers with negative exponents keep TF's integer semantics
    return _POW_SPECIAL.get(float(e))


Pow = _ew("Pow", "{0} ** {1}", expr_for=classmethod(_pow_expr_for))


# -- public functions -----------------------------------------------------------------

def pow(x, y, name=None):
    return _binary(Pow, x, y, name)


def abs(x, name=None):
    return _unary(Abs, x, name)


def sign(x, name=None):
    return _unary(Sign, x, name)


def exp(x, name=None):
    return _unary(Exp, x, name)


def log(x, name=None):
    return _unary(Log, x, name)


def log1p(x, name=None):
    return _unary(Log1p, x, name)


def expm1(x, name=None):
    return _unary(Expm1, x, name)


def sqrt(x, name=None):
    return _unary(Sqrt, x, name)


def rsqrt(x, name=None):
    return _unary(Rsqrt, x, name)


def square(x, name=None):
    return _unary(Square, x, name)


def reciprocal(x, name=None):
    return _unary(Reciprocal, x, name)


def sin(x, name=None):
    return _unary(Sin, x, name)


def cos(x, name=None):
    return _unary(Cos, x, name)


def tan(x, name=None):
    return _unary(Tan, x, name)


def asin(x, name=None):
    return _unary(Asin, x, name)


def acos(x, name=None):
    return _unary(Acos, x, name)


def atan(x, name=None):
    return _unary(Atan, x, name)


def sinh(x, name=None):
    return _unary(Sinh, x, name)


def cosh(x, name=None):
    return _unary(Cosh, x, name)


def tanh(x, name=None):
    return _unary(Tanh, x, name)


def erf(x, name=None):
    return _unary(Erf, x, name)


def sigmoid(x, name=None):
    return _unary(Sigmoid, x, name)


def log_sigmoid(x, name=None):
    x = convert_to_tensor(x)
    # log(sigmoid(x)) = -softplus(-x), computed stably.
    return negative(log1p(exp(negative(abs(x)))) + maximum(negative(x), 0.0), name=name or "LogSigmoid")


def floor(x, name=None):
    return _unary(Floor, x, name)


def ceil(x, name=None):
    return _unary(Ceil, x, name)


def round(x, name=None):
    x = convert_to_tensor(x)
    if x.dtype.is_integer:
        return x
    return _unary(Round, x, name)


def rint(x, name=None):
    return _unary(Rint, x, name)


# -- gradients ------------------------------------------------------------------------

for _t in ("Sign", "Floor", "Ceil", "Round", "Rint"):
    NotDifferentiable(_t)


@RegisterGradient("Pow")
def _pow_grad(op, grad):
    x, y = op.inputs
    z = op.outputs[0]
    gx = multiply(grad, multiply(y, pow(x, subtract(y, 1))))
    safe_log = where_v2(greater(x, 0), log(where_v2(greater(x, 0), x, ones_like(x))),
                          zeros_like(x))
    gy = multiply(grad, multiply(z, safe_log))
    return _binary_grads(op, gx, gy)


@RegisterGradient("Abs")
def _abs_grad(op, grad):
    return multiply(grad, sign(op.inputs[0]))


@RegisterGradient("Exp")
def _exp_grad(op, grad):
    return multiply(grad, op.outputs[0])


@RegisterGradient("Expm1")
def _expm1_grad(op, grad):
    return multiply(grad, exp(op.inputs[0]))


@RegisterGradient("Log")
def _log_grad(op, grad):
    return multiply(grad, reciprocal(op.inputs[0]))


@RegisterGradient("Log1p")
def _log1p_grad(op, grad):
    return realdiv(grad, add(op.inputs[0], 1.0))


@RegisterGradient("Sqrt")
def _sqrt_grad(op, grad):
    return apply_op(SqrtGrad, [op.outputs[0], grad])


@RegisterGradient("Rsqrt")
def _rsqrt_grad(op, grad):
    return apply_op(RsqrtGrad, [op.outputs[0], grad])


@RegisterGradient("Reciprocal")
def _reciprocal_grad(op, grad):
    return apply_op(ReciprocalGrad, [op.outputs[0], grad])


@RegisterGradient("Square")
def _square_grad(op, grad):
    return multiply(grad, multiply(op.inputs[0], 2.0))


@RegisterGradient("Sin")
def _sin_grad(op, grad):
    return multiply(grad, cos(op.inputs[0]))


@RegisterGradient("Cos")
def _cos_grad(op, grad):
    return negative(multiply(grad, sin(op.inputs[0])))


@RegisterGradient("Tan")
def _tan_grad(op, grad):
    y = op.outputs[0]
    return multiply(grad, add(square(y), 1.0))


@RegisterGradient("Asin")
def _asin_grad(op, grad):
    x = op.inputs[0]
    return multiply(grad, rsqrt(subtract(1.0, square(x))))


@RegisterGradient("Acos")
def _acos_grad(op, grad):
    x = op.inputs[0]
    return negative(multiply(grad, rsqrt(subtract(1.0, square(x)))))


@RegisterGradient("Atan")
def _atan_grad(op, grad):
    x = op.inputs[0]
    return realdiv(grad, add(square(x), 1.0))


@RegisterGradient("Sinh")
def _sinh_grad(op, grad):
    return multiply(grad, cosh(op.inputs[0]))


@RegisterGradient("Cosh")
def _cosh_grad(op, grad):
    return multiply(grad, sinh(op.inputs[0]))


@RegisterGradient("Erf")
def _erf_grad(op, grad):
    x = op.inputs[0]
    k = np.asarray(2.0 / np.sqrt(np.pi), dtype=x.dtype.as_numpy_dtype)
    return multiply(grad, multiply(exp(negative(square(x))), k))


@RegisterGradient("Tanh")
def _tanh_grad(op, grad):
    return apply_op(TanhGrad, [op.outputs[0], grad])


@RegisterGradient("Sigmoid")
def _sigmoid_grad(op, grad):
    return apply_op(SigmoidGrad, [op.outputs[0], grad])


@RegisterGradient("TanhGrad")
def _tanhgrad_grad(op, grad):
    y, dy = op.inputs
    return (multiply(multiply(grad, dy), multiply(y, -2.0)),
            apply_op(TanhGrad, [y, grad]))


@RegisterGradient("SigmoidGrad")
def _sigmoidgrad_grad(op, grad):
    y, dy = op.inputs
    # d/dy [dy*y*(1-y)] = dy*(1-2y)
    return (multiply(multiply(grad, dy), subtract(1.0, multiply(y, 2.0))),
            apply_op(SigmoidGrad, [y, grad]))


@RegisterGradient("SqrtGrad")
def _sqrtgrad_grad(op, grad):
    # out = dy * 0.5 / y: d/dy_in = 0.5 / y, d/dy = -out / y
    y = op.inputs[0]
    ga = realdiv(grad, y)
    return negative(multiply(ga, op.outputs[0])), multiply(ga, 0.5)


@RegisterGradient("RsqrtGrad")
def _rsqrtgrad_grad(op, grad):
    # out = -0.5 * dy * y^3: d/dy = -1.5 * dy * y^2, d/dy_in = -0.5 * y^3
    y, dy = op.inputs
    return (multiply(multiply(grad, dy), multiply(square(y), -1.5)),
            apply_op(RsqrtGrad, [y, grad]))


@RegisterGradient("ReciprocalGrad")
def _reciprocalgrad_grad(op, grad):
    # out = -dy * y^2: d/dy = -2 * dy * y, d/dy_in = -y^2
    y, dy = op.inputs
    return (multiply(multiply(grad, dy), multiply(y, -2.0)),
            apply_op(ReciprocalGrad, [y, grad]))
