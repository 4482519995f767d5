"""Vectorizable float32 transcendentals (exp, log, sin, cos, tanh).

Numba has no SVML here, so ``np.exp`` inside a loop is a scalar libm call and
the loop cannot vectorize. These are branch-free float32 versions (Cody-Waite
range reduction + minimax polynomials, the classic Cephes single-precision
coefficients) that LLVM inlines and vectorizes. Measured accuracy against
numpy (float64 reference), see tests/test_fastmath.py and docs/FASTMATH.md:

- exp32: max relative error ~1.2e-7 on [-87, 88]; inf above 88.72, 0 below
  -87.33 (numpy returns denormals there), NaN stays NaN.
- log32: max relative error ~1.2e-7 (absolute ~6e-8 near 1); -inf at 0, NaN below 0.
- sin32 / cos32: max absolute error ~1.2e-7 for |x| <= 8192 (the reduction
  uses three float32 pieces of pi/4, as Cephes' sinf/cosf do); beyond 8192
  the float32 argument itself carries less precision than the result.
- tanh32: max relative error ~2e-7.
"""
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from nbflow.kernels.jit import njit


@intrinsic
def _bits_to_f32(typingctx, x):
    """Reinterpret the low 32 bits of an integer as a float32 (no conversion).

    Numba widens int32 arithmetic to int64, so any integer is accepted."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        v = args[0]
        if x.bitwidth != 32:
            v = builder.trunc(v, ir.IntType(32))
        return builder.bitcast(v, ir.FloatType())
    return types.float32(x), codegen


@intrinsic
def _f32_to_bits(typingctx, x):
    """Reinterpret a float32's bits as an int32."""
    if x != types.float32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))
    return types.int32(types.float32), codegen


@intrinsic
def _max32(typingctx, a, b):
    """max(a, b) of float32s as the builtin computes it (b if b > a else a), one
    select instruction: the builtin is a function of its own to compile."""
    if a != types.float32 or b != types.float32:
        return None

    def codegen(context, builder, signature, args):
        x, y = args
        return builder.select(builder.fcmp_ordered(">", y, x), y, x)
    return types.float32(types.float32, types.float32), codegen


@intrinsic
def _min32(typingctx, a, b):
    """min(a, b) of float32s as the builtin computes it (b if b < a else a)."""
    if a != types.float32 or b != types.float32:
        return None

    def codegen(context, builder, signature, args):
        x, y = args
        return builder.select(builder.fcmp_ordered("<", y, x), y, x)
    return types.float32(types.float32, types.float32), codegen


_F = np.float32
_INF = _F(np.inf)
_NAN = _F(np.nan)
_ZERO = _F(0.0)
_LOG2E = _F(1.44269504088896341)
_LN2_HI = _F(0.693359375)
_LN2_LO = _F(-2.12194440e-4)
_EXP_HI = _F(88.72283905206835)
_EXP_LO = _F(-87.33654475055310)


@njit(inline="always", cache=True)
def exp32(x):
    xc = _min32(_max32(x, _EXP_LO), _EXP_HI)
    n = np.floor(xc * _LOG2E + _F(0.5))
    r = xc - n * _LN2_HI - n * _LN2_LO
    p = _F(1.9875691500e-4)
    p = p * r + _F(1.3981999507e-3)
    p = p * r + _F(8.3334519073e-3)
    p = p * r + _F(4.1665795894e-2)
    p = p * r + _F(1.6666665459e-1)
    p = p * r + _F(5.0000001201e-1)
    y = p * r * r + r + _F(1.0)
    # 2**n, built from its exponent bits; n is within [-126, 128].
    ni = np.int32(n)
    half = ni >> np.int32(1)
    scale1 = _bits_to_f32((half + np.int32(127)) << np.int32(23))
    scale2 = _bits_to_f32((ni - half + np.int32(127)) << np.int32(23))
    y = y * scale1 * scale2
    y = _INF if x > _EXP_HI else y
    y = _ZERO if x < _EXP_LO else y
    return y if x == x else x


@njit(inline="always", cache=True)
def exp_nonpos32(x):
    """exp32 for arguments <= 0 or NaN only (softmax's logits minus their row
    maximum): the same value as exp32 there, with the overflow side left out --
    n is in [-126, 0], so 2**n is one normal float32 -- about 20% fewer
    instructions in the softmax's hottest loop. A positive argument gives a
    wrong result: callers guarantee x <= 0."""
    xc = _max32(x, _EXP_LO)
    n = np.floor(xc * _LOG2E + _F(0.5))
    r = xc - n * _LN2_HI - n * _LN2_LO
    p = _F(1.9875691500e-4)
    p = p * r + _F(1.3981999507e-3)
    p = p * r + _F(8.3334519073e-3)
    p = p * r + _F(4.1665795894e-2)
    p = p * r + _F(1.6666665459e-1)
    p = p * r + _F(5.0000001201e-1)
    y = p * r * r + r + _F(1.0)
    y = y * _bits_to_f32((np.int32(n) + np.int32(127)) << np.int32(23))
    y = _ZERO if x < _EXP_LO else y
    return y if x == x else x


_SQRTHF = _F(0.707106781186547524)


@njit(inline="always", cache=True)
def log32(x):
    bits = _f32_to_bits(x)
    e = ((bits >> np.int32(23)) & np.int32(0xFF)) - np.int32(126)
    m = _bits_to_f32((bits & np.int32(0x007FFFFF)) | np.int32(0x3F000000))  # in [0.5, 1)
    small = m < _SQRTHF
    ef = _F(e) - (_F(1.0) if small else _F(0.0))
    m = (m + m - _F(1.0)) if small else (m - _F(1.0))
    z = m * m
    p = _F(7.0376836292e-2)
    p = p * m - _F(1.1514610310e-1)
    p = p * m + _F(1.1676998740e-1)
    p = p * m - _F(1.2420140846e-1)
    p = p * m + _F(1.4249322787e-1)
    p = p * m - _F(1.6668057665e-1)
    p = p * m + _F(2.0000714765e-1)
    p = p * m - _F(2.4999993993e-1)
    p = p * m + _F(3.3333331174e-1)
    y = m * z * p
    y = y + ef * _LN2_LO
    y = y - _F(0.5) * z
    y = m + y + ef * _LN2_HI
    y = -_INF if x == _ZERO else y
    y = _NAN if x < _ZERO else y
    y = x if (x == _INF or x != x) else y
    return y


_FOPI = _F(1.27323954473516)
_DP1 = _F(0.78515625)
_DP2 = _F(2.4187564849853515625e-4)
_DP3 = _F(3.77489497744594108e-8)


@njit(inline="always", cache=True)
def _sincos_core(x, want_cos):
    ax = abs(x)
    j = np.int32(ax * _FOPI)
    j = (j + np.int32(1)) & np.int32(-2)
    y = _F(j)
    z = ((ax - y * _DP1) - y * _DP2) - y * _DP3
    zz = z * z
    s = z + z * zz * (_F(-1.6666654611e-1) + zz * (_F(8.3321608736e-3) + zz * _F(-1.9515295891e-4)))
    c = _F(1.0) - _F(0.5) * zz + zz * zz * (
        _F(4.166664568298827e-2) + zz * (_F(-1.388731625493765e-3) + zz * _F(2.443315711809948e-5)))
    if want_cos:
        neg = ((j & np.int32(4)) != 0) != ((j & np.int32(2)) != 0)
        use_cos = (j & np.int32(2)) == 0
    else:
        neg = ((j & np.int32(4)) != 0) != (x < _F(0.0))
        use_cos = (j & np.int32(2)) != 0
    r = c if use_cos else s
    r = -r if neg else r
    return r if x == x else x


@njit(inline="always", cache=True)
def sin32(x):
    return _sincos_core(x, False)


@njit(inline="always", cache=True)
def cos32(x):
    return _sincos_core(x, True)


@njit(inline="always", cache=True)
def tanh32(x):
    ax = abs(x)
    # large |x|: 1 - 2/(exp(2|x|) + 1); small |x|: odd polynomial (no cancellation)
    big = _F(1.0) - _F(2.0) / (exp32(ax + ax) + _F(1.0))
    big = -big if x < _F(0.0) else big
    z = x * x
    p = _F(-5.70498872745e-3)
    p = p * z + _F(2.06390887954e-2)
    p = p * z - _F(5.37397155531e-2)
    p = p * z + _F(1.33314422036e-1)
    p = p * z - _F(3.33332819422e-1)
    small = x + x * z * p
    return small if ax < _F(0.625) else big
