"""Element-wise ops, each defined once as a scalar expression.

A subclass of :class:`ElementwiseOp` gives ``expr``: a format string over its
inputs ``{0}, {1}, ...`` where ``{T}`` is the numpy scalar type of the
computation (``np.float32``). Constants must be written as ``{T}(1)`` so that
float32 math stays float32 inside Numba. The loop, the broadcasting and the
kernel cache come from ``nbflow.kernels.cpu.elementwise``; the graph optimizer
(fusion) composes these same expressions into larger kernels.
"""
import os

import numpy as np

from nbflow.framework import dtypes
from nbflow.framework.tensor_shape import TensorShape
from nbflow.kernels.cpu import elementwise as ew_kernels
from nbflow.ops.base import Op

FLOAT = "f"
INT = "iu"
NUMERIC = "fiu"
BOOL = "b"
ANY = "fiub"


def broadcast_static(ctx):
    """Broadcast partially known shapes, raising TF's message on mismatch."""
    shapes = ctx.input_shapes
    if any(s.ndims is None for s in shapes):
        return TensorShape(None)
    rank = max((s.ndims for s in shapes), default=0)
    out = []
    for k in range(rank):
        dims = []
        for s in shapes:
            t = s.as_tuple()
            off = rank - len(t)
            dims.append(1 if k < off else t[k - off])
        known = [d for d in dims if d is not None and d != 1]
        if len(set(known)) > 1:
            raise ctx.error(
                "Dimensions must be equal, but are %d and %d for '%s' with input shapes: %s"
                % (known[0], known[1], ctx.name, ", ".join(_fmt_shape(s) for s in shapes))
            )
        if known:
            out.append(known[0])
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return TensorShape(out)


def _fmt_shape(s):
    if s.ndims is None:
        return "?"
    return "[%s]" % ",".join("?" if d is None else str(d) for d in s.as_tuple())


# float32 transcendentals: nbflow's vectorizable versions (kernels/cpu/fastmath.py)
# instead of scalar libm calls. NBFLOW_FAST_TRANSCENDENTALS=0 switches them off.
_FAST_FLOAT32 = (("np.exp(", "fastmath.exp32("), ("np.log(", "fastmath.log32("), ("np.sin(", "fastmath.sin32("),
                 ("np.cos(", "fastmath.cos32("), ("np.tanh(", "fastmath.tanh32("))


def _use_fast_transcendentals():
    return os.environ.get("NBFLOW_FAST_TRANSCENDENTALS", "1") != "0"


class ElementwiseOp(Op):
    """Base of ops defined by one scalar expression per element."""

    expr = None
    #: dtype kinds accepted for the inputs (numpy kind letters).
    kinds = NUMERIC
    #: "same" (the input dtype), "bool", or a DType.
    output = "same"
    #: indices of inputs that must share one dtype (TF has no implicit promotion).
    same_dtype_inputs = None
    outputs_alias_inputs = False
    pooled_outputs = True

    @classmethod
    def output_dtype(cls, in_dtypes):
        if cls.output == "same":
            return in_dtypes[0]
        if cls.output == "bool":
            return dtypes.bool_
        return cls.output

    @classmethod
    def compute_dtype(cls, in_dtypes):
        return in_dtypes[0]

    @classmethod
    def check_dtypes(cls, ctx):
        ins = ctx.input_dtypes
        group = cls.same_dtype_inputs if cls.same_dtype_inputs is not None else range(len(ins))
        group = list(group)
        first = ins[group[0]] if group else None
        for i in group:
            if ins[i] is not first:
                raise TypeError(
                    "Input 'y' of '%s' Op has type %s that does not match type %s of argument 'x'."
                    % (cls.type, ins[i].name, first.name)
                )
        for i in group:
            if ins[i]._np is None or ins[i]._np.kind not in cls.kinds:
                raise TypeError(
                    "Value passed to op '%s' (%s) has DataType %s not in list of allowed values"
                    % (ctx.name, cls.type, ins[i].name)
                )

    @classmethod
    def infer(cls, ctx):
        cls.check_dtypes(ctx)
        return [(cls.output_dtype(ctx.input_dtypes), broadcast_static(ctx))]

    @classmethod
    def scalar_expr(cls, in_dtypes, args):
        """The scalar expression over argument expressions ``args``."""
        return cls._format(cls.expr, in_dtypes, args)

    @classmethod
    def _format(cls, template, in_dtypes, args):
        T = "np." + np.dtype(cls.compute_dtype(in_dtypes).as_numpy_dtype).name
        if T == "np.bool":
            T = "np.bool_"
        expr = template.format(*args, T=T)
        if T == "np.float32" and _use_fast_transcendentals():
            for slow, fast in _FAST_FLOAT32:
                expr = expr.replace(slow, fast)
        return "(" + expr + ")"

    @classmethod
    def scalar_expr_for(cls, in_dtypes, args, values):
        """``scalar_expr``, specialised on inputs whose values are known at plan
        time when the op defines ``expr_for(values)`` (e.g. ``x ** 2`` -> ``x * x``)."""
        special = getattr(cls, "expr_for", None)
        template = special(values) if special is not None else None
        if template is None:
            return cls.scalar_expr(in_dtypes, args)
        return cls._format(template, in_dtypes, args)

    @classmethod
    def plan(cls, ctx):
        if dtypes.float16 in ctx.input_dtypes or ctx.output_dtypes[0] is dtypes.float16:
            return _plan_float16(cls, ctx)
        in_np = [d.as_numpy_dtype for d in ctx.input_dtypes]
        out_np = ctx.out_np_dtype(0)
        expr = cls.scalar_expr_for(ctx.input_dtypes, ["x%d" % i for i in range(len(in_np))], ctx.input_values)
        shapes = [s.as_tuple() for s in ctx.input_shapes]
        if all(s is not None and None not in s for s in shapes):
            kernel, out_shape = ew_kernels.get_kernel([], [expr], in_np, shapes, [out_np])
            out = ctx.static_buffer(0) if ctx.output_shapes[0].is_fully_defined() else None
            return _bind_static(kernel, out if out is not None else np.empty(out_shape, dtype=out_np), len(in_np))
        return _bind_dynamic(expr, in_np, out_np)


def _plan_float16(cls, ctx):
    """Numba has no float16 arithmetic: compute in float32, round to float16.

    Each step converts (allocating): float16 graphs are for storage, not speed."""
    widen = [dtypes.float32 if d is dtypes.float16 else d for d in ctx.input_dtypes]
    out16 = ctx.output_dtypes[0] is dtypes.float16
    in_np = [d.as_numpy_dtype for d in widen]
    out_np = np.float32 if out16 else ctx.out_np_dtype(0)
    expr = cls.scalar_expr_for(widen, ["x%d" % i for i in range(len(in_np))], ctx.input_values)
    inner = _bind_dynamic(expr, in_np, out_np)

    def run(*args):
        out = inner(*[a.astype(np.float32) if a.dtype == np.float16 else a for a in args])
        return out.astype(np.float16) if out16 else out
    return run


def _bind_static(kernel, out, arity):
    if arity == 1:
        def run(a):
            kernel(a, out)
            return out
    elif arity == 2:
        def run(a, b):
            kernel(a, b, out)
            return out
    elif arity == 3:
        def run(a, b, c):
            kernel(a, b, c, out)
            return out
    else:
        def run(*args):
            kernel(*args, out)
            return out
    return run


def _bind_dynamic(expr, in_np, out_np):
    """Shapes known only at run time: pick (and cache) the kernel per shape."""
    def run(*args):
        kernel, out_shape = ew_kernels.get_kernel([], [expr], in_np, [a.shape for a in args], [out_np])
        out = np.empty(out_shape, dtype=out_np)
        kernel(*args, out)
        return out
    return run
