"""CPU kernels of the printing ops (nbflow/ops/logging_ops.py): StringFormat,
PrintV2 and TF 1's Print.

Tensors are formatted as TF's ``Tensor::SummarizeValue``: ``summarize``
elements (``-1``: all) at each end of each dimension in TF 2's form
(``[[1 2 ... 8 9]\\n [...]]``, as numpy prints), or the first ``summarize``
elements in TF 1's (``[1 2 3...]``, tf.Print); floats in the shortest of 6 or 9
significant digits (15 or 17 for float64) that reads back as the same value,
booleans as 1 and 0, string elements C-escaped (and quoted in TF 2's form).

The streams are looked up when the op runs (``sys.stdout``/``sys.stderr``), so
output goes wherever Python's streams go at that moment (a notebook, pytest's
capture); "log(...)" streams write to the "nbflow" logger (tf.logging's).
"""
import logging
import sys
import threading

import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.framework import errors
from nbflow.ops import logging_ops
from nbflow.state.resources import ResourceHandle

_ESCAPES = {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", ord('"'): '\\"', ord("'"): "\\'",
            ord("\\"): "\\\\"}


def _c_escape(value):
    """absl's Utf8SafeCEscape: control characters escaped, bytes >= 0x80 kept (UTF-8 passes through)."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    elif not isinstance(value, (bytes, bytearray)):
        value = str(value).encode("utf-8")
    out = bytearray()
    for c in value:
        if c in _ESCAPES:
            out += _ESCAPES[c].encode()
        elif c < 0x20 or c == 0x7F:
            out += b"\\%03o" % c
        else:
            out.append(c)
    return out.decode("utf-8", errors="replace")


def _float_text(v, digits, np_type):
    """TF's FloatToBuffer/DoubleToBuffer: %g with 6 (15) digits, or 9 (17) when that does not read back."""
    v = float(v)
    short = "%.*g" % (digits[0], v)
    if v != v or v in (float("inf"), float("-inf")) or np_type(float(short)) == np_type(v):
        return short
    return "%.*g" % (digits[1], v)


def _element_formatter(dtype, v2):
    if dtype == np.object_:
        return (lambda s: '"%s"' % _c_escape(s)) if v2 else _c_escape
    if dtype == np.float64:
        return lambda x: _float_text(x, (15, 17), np.float64)
    if dtype.kind == "f":  # float32, and float16 printed as the float32 it converts to
        return lambda x: _float_text(x, (6, 9), np.float32)
    if dtype == np.bool_:
        return lambda x: "1" if x else "0"
    if dtype.kind in "iu":
        return lambda x: str(int(x))
    return lambda x: "?"  # TF prints "?" for the types it does not pretty-print


def _v2_dim(a, dim, ndim, ends, fmt, out):
    """TF's PrintOneDimV2: ``a`` is the sub-array (or, at ``dim == ndim``, the element) at ``dim``."""
    if dim == ndim:
        out.append(fmt(a))
        return
    spacing = " " if dim == ndim - 1 else "\n" * (ndim - dim - 1) + " " * (dim + 1)
    out.append("[")
    count = a.shape[0]
    for i in range(min(ends, count)):
        if i > 0:
            out.append(spacing)
        _v2_dim(a[i], dim + 1, ndim, ends, fmt, out)
    if count > 2 * ends:
        out.append(spacing)
        out.append("...")
    for i in range(max(ends, count - ends), count):
        out.append(spacing)
        _v2_dim(a[i], dim + 1, ndim, ends, fmt, out)
    out.append("]")


def _v1_dim(a, flat, dim, limit, pos, fmt, out):
    """TF's PrintOneDim (TF 1's format): the first ``limit`` elements in
    row-major order, brackets around inner dimensions. Returns the new position."""
    if pos >= limit:
        return pos
    count = a.shape[dim]
    if dim == a.ndim - 1:
        for i in range(count):
            if pos >= limit:
                if dim != 0:
                    out.append("...")
                return pos
            if i > 0:
                out.append(" ")
            out.append(fmt(flat[pos]))
            pos += 1
        return pos
    for _ in range(count):
        opened = pos < limit
        if opened:
            out.append("[")
        pos = _v1_dim(a, flat, dim + 1, limit, pos, fmt, out)
        if pos < limit or opened:
            out.append("]")
    return pos


def summarize_value(array, summarize, v2=True):
    """The text of one tensor value, as TF's ``Tensor::SummarizeValue(summarize, print_v2)``."""
    a = np.asarray(array)
    n = a.size
    max_entries = n if summarize < 0 else summarize
    limit = min(max_entries, n)
    fmt = _element_formatter(a.dtype, v2)
    if a.ndim == 0:
        text = " ".join(fmt(a[()]) for _ in range(limit))
        return text + "..." if n > limit else text
    out = []
    if v2:
        _v2_dim(a, 0, a.ndim, limit, fmt, out)
    else:
        _v1_dim(a, a.reshape(-1), 0, limit, 0, fmt, out)
        if n > limit:
            out.append("...")
    return "".join(out)


def _as_text(value):
    value = value[()] if isinstance(value, np.ndarray) else value
    if isinstance(value, (bytes, bytearray, np.bytes_)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


_LOG_LEVELS = {"log(info)": logging.INFO, "log(warning)": logging.WARNING, "log(error)": logging.ERROR}


@register_kernel(logging_ops.StringFormat)
def _string_format(ctx):
    pieces = ctx.attrs["template"].split(ctx.attrs["placeholder"])
    summarize = ctx.attrs["summarize"]

    def run(*inputs):
        parts = [pieces[0]]
        for value, piece in zip(inputs, pieces[1:]):
            parts.append(summarize_value(value, summarize, v2=True))
            parts.append(piece)
        out = np.empty((), dtype=object)
        out[()] = "".join(parts).encode("utf-8")
        return out
    return run


@register_kernel(logging_ops.PrintV2)
def _print_v2(ctx):
    stream, end = ctx.attrs["output_stream"], ctx.attrs["end"]

    def run(value):
        if value.ndim != 0:
            raise ctx.run_error("Input is expected to be scalar, but got %s" % (list(value.shape),))
        text = _as_text(value)
        if stream.startswith("file://"):
            path = stream[len("file://"):]
            try:
                with open(path, "a", encoding="utf-8") as f:
                    f.write(text + end)
            except OSError as e:
                raise ctx.op_error(errors.InternalError, "Could not open file: %s (%s)" % (path, e)) from None
        elif stream in _LOG_LEVELS:
            logging.getLogger("nbflow").log(_LOG_LEVELS[stream], text)
        else:
            target = sys.stdout if stream == "stdout" else sys.stderr
            target.write(text + end)
            target.flush()
    return run


class _PrintCounter:
    """How many times a Print op with ``first_n`` has printed in one session."""

    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()


@register_kernel(logging_ops.PrintOp)
def _print_v1(ctx):
    message, first_n, summarize = ctx.attrs["message"], ctx.attrs["first_n"], ctx.attrs["summarize"]
    # The count lives in the session's resources, so every plan running this op shares it (TF
    # keeps it in the stateful kernel, which a session shares across run signatures).
    counter = (ctx.resources.lookup_or_create(ResourceHandle("print counter", "", ctx.name), _PrintCounter)
               if first_n >= 0 and ctx.resources is not None else None)

    def run(x, *data):
        if counter is not None:
            with counter.lock:
                if counter.count >= first_n:
                    return x
                counter.count += 1
        text = message + "".join("[%s]" % summarize_value(d, summarize, v2=False) for d in data)
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
        return x
    return run
