"""The runtime dispatchers converted code calls as ``ag__.*``.

``if_stmt``, ``while_stmt`` and ``for_stmt`` build tf.cond / tf.while_loop
when the condition (or the iterated value) is a symbolic tensor, and run the
Python statement otherwise. The statement's variables travel through
``get_state()`` / ``set_state(values)``; the bodies assign them as nonlocals.
This module is the ``ag__`` namespace of converted functions, so it also
re-exports values.py.
"""
import threading

import numpy as np

from nbflow.autograph.tensors import is_range_tensor, is_symbolic
from nbflow.autograph.values import (  # noqa: F401  (the ag__ namespace)
    Undefined, UndefinedReturnValue, and_, eq, is_undefined, len_, maybe_undefined, not_, not_eq, or_, range_,
    retval,
)
from nbflow.framework.graph import Tensor, get_default_graph as init_graph
from nbflow.ops import control_flow_util
from nbflow.ops import operators as _operators  # noqa: F401  (Tensor operators: indexing, +, <)
from nbflow.ops.array_fill_ops import zeros
from nbflow.ops.array_concat_ops import gather
from nbflow.ops.array_shape_ops import shape as tf_shape
from nbflow.ops.base import constant_value, convert_to_tensor
from nbflow.ops.cond_op import cond
from nbflow.ops.math_compare_ops import greater, less, logical_and, logical_or
from nbflow.ops.while_op import while_loop

_PYTHON_SCALARS = (bool, int, float, str, bytes, type(None), np.generic)
_probe = threading.local()  # .depth > 0 while a loop body is run only to learn the return value's type


class _Probing:
    def __enter__(self):
        _probe.depth = getattr(_probe, "depth", 0) + 1

    def __exit__(self, *exc):
        _probe.depth -= 1


def _describe(value):
    if isinstance(value, Tensor):
        return "a tensor of dtype %s" % value.dtype.name
    if value is None:
        return "None"
    return "a Python %s" % type(value).__name__


def _same_python_value(a, b):
    """Both branches left the same non-tensor value: it stays a Python value."""
    if a is b:
        return not isinstance(a, Tensor)
    if isinstance(a, _PYTHON_SCALARS) and type(a) is type(b):
        try:
            return bool(a == b)
        except (TypeError, ValueError):
            return False
    return False


def _to_tensor(value, name, where, dtype=None):
    try:
        return convert_to_tensor(value, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise TypeError("autograph: '%s' %s must be a tensor or convertible to one, got %s (%s)"
                        % (name, where, _describe(value), e)) from None


# -- if -------------------------------------------------------------------------

def if_stmt(cond_value, body, orelse, get_state, set_state, symbol_names, nouts):
    """``if cond: body() else: orelse()``; the first ``nouts`` names of the
    state are the statement's outputs (the variables read after it)."""
    if is_symbolic(cond_value):
        _tf_if_stmt(cond_value, body, orelse, get_state, set_state, symbol_names, nouts)
    elif cond_value:
        body()
    else:
        orelse()


def _check_branches(names, body_values, else_values):
    """-> for each output, a Python value both branches agree on (or None: a tensor)."""
    keep = []
    for name, a, b in zip(names, body_values, else_values):
        if is_undefined(a) and is_undefined(b):
            keep.append((a,))
            continue
        if name.startswith("retval_") and (is_undefined(a) or is_undefined(b)):
            raise ValueError("autograph: a tensor-dependent if returns a value in the %s branch only; the %s branch "
                             "must return too" % (("else", "if") if is_undefined(a) else ("if", "else")))
        if is_undefined(b):
            raise ValueError("'%s' must also be initialized in the else branch: it is assigned in the if branch "
                             "of a tensor-dependent if, and undefined before it" % name)
        if is_undefined(a):
            raise ValueError("'%s' must also be initialized in the if branch: it is assigned in the else branch "
                             "of a tensor-dependent if, and undefined before it" % name)
        if _same_python_value(a, b):
            keep.append((a,))
            continue
        if a is None or b is None:
            raise TypeError("'%s' is %s in the if branch and %s in the else branch of a tensor-dependent if; "
                            "both branches must give it a tensor value" % (name, _describe(a), _describe(b)))
        ta, tb = _to_tensor(a, name, "in the if branch"), _to_tensor(b, name, "in the else branch")
        if ta.dtype is not tb.dtype:
            raise TypeError("'%s' has dtype %s in the if branch but %s in the else branch of a tensor-dependent "
                            "if; both branches must give it the same dtype" % (name, ta.dtype.name, tb.dtype.name))
        keep.append(None)
    return keep


def _tf_if_stmt(pred, body, orelse, get_state, set_state, names, nouts):
    init = tuple(get_state())
    if getattr(_probe, "depth", 0):  # both branches, merged: only the values' types matter
        set_state(init)
        body()
        a = tuple(get_state())[:nouts]
        set_state(init)
        orelse()
        b = tuple(get_state())[:nouts]
        set_state(tuple(y if is_undefined(x) else x for x, y in zip(a, b)) + init[nouts:])
        return
    names = names[:nouts]
    seen = {}

    def branch(fn, which):
        def run():
            set_state(init)
            fn()
            values = tuple(get_state())[:nouts]
            seen[which] = values
            if which == "else":
                seen["keep"] = _check_branches(names, seen["if"], values)
            out = []
            for k, v in enumerate(values):
                if which == "else" and seen["keep"][k] is not None:
                    out.append(_branch_placeholder(seen["if"][k]))
                elif isinstance(v, Tensor) or not is_undefined(v) and v is not None and _convertible(v):
                    out.append(convert_to_tensor(v))
                else:
                    out.append(())  # checked by the else branch
            return out
        return run

    outs = cond(pred, branch(body, "if"), branch(orelse, "else"), strict=True)
    final = []
    for k, keep in enumerate(seen["keep"]):
        final.append(outs[k] if keep is None else keep[0])
    set_state(tuple(final) + init[nouts:])


def _convertible(v):
    try:
        convert_to_tensor(v)
        return True
    except (TypeError, ValueError):
        return False


def _branch_placeholder(if_value):
    """The else branch's output for a value both branches leave as the same
    Python value: the structure the if branch returned for it."""
    if isinstance(if_value, Tensor) or not is_undefined(if_value) and if_value is not None and \
            _convertible(if_value):
        return convert_to_tensor(if_value)
    return ()


# -- while ----------------------------------------------------------------------

def while_stmt(test, body, get_state, set_state, symbol_names, opts):
    """``while test(): body()``; ``symbol_names`` are the loop variables."""
    first = test()
    if is_symbolic(first):
        _tf_loop(lambda: test(), None, lambda i: body(), get_state, set_state, symbol_names, opts, index=None)
        return
    _py_while(first, test, body)


def _py_while(first, test, body):
    c, steps = first, 0
    while True:
        if is_symbolic(c):
            raise ValueError(
                "autograph: the condition of this while loop was a Python value at first and became a tensor "
                "after %d iterations; give its variables tensor values before the loop (e.g. tf.constant) so the "
                "loop becomes a tf.while_loop" % steps)
        if not c:
            return
        body()
        steps += 1
        c = test()


# -- for ------------------------------------------------------------------------

def for_stmt(iterated, extra_test, body, get_state, set_state, symbol_names, opts):
    """``for x in iterated: body(x)``, stopping early when ``extra_test()`` is
    false (the rewritten ``break``/``return``). A symbolic tf.range counts an
    index in a tf.while_loop; another symbolic tensor is iterated over its
    first dimension; anything else is a Python loop."""
    if is_range_tensor(iterated):
        start, limit, delta = iterated.op.inputs[:3]
        _tf_loop(None, extra_test, body, get_state, set_state, symbol_names, opts,
                 index=(start, limit, delta, lambda i: i))
    elif is_symbolic(iterated):
        dims = iterated.shape.as_tuple()
        if dims is None or len(dims) == 0:
            raise ValueError("autograph: cannot iterate over %s: a for loop over a tensor needs rank >= 1, "
                             "got shape %s" % (iterated.name, iterated.shape))
        n = dims[0] if dims[0] is not None else tf_shape(iterated)[0]
        _tf_loop(None, extra_test, body, get_state, set_state, symbol_names, opts,
                 index=(0, n, 1, lambda i: gather(iterated, i)))
    else:
        _py_for(iterated, extra_test, body)


def _py_for(iterated, extra_test, body):
    for x in iterated:
        if extra_test is not None:
            c = extra_test()
            if is_symbolic(c):
                raise NotImplementedError(
                    "autograph: a break or return that depends on a tensor inside a loop over a Python iterable "
                    "(%s) is not supported; iterate over a tensor or tf.range instead" % type(iterated).__name__)
            if not c:
                return
        body(x)


# -- tf.while_loop for while and for ------------------------------------------

def _tf_loop(test, extra_test, body, get_state, set_state, names, opts, index):
    """One tf.while_loop. ``index`` is None (a while: ``test()``), or
    (start, limit, delta, element_of_index) for a for loop."""
    names = tuple(names)
    init = tuple(get_state())
    iterate_names = set(n.strip() for n in opts.get("iterate_names", "").split(","))
    # a for loop's target needs no value before the loop: it is assigned first in each iteration
    carried = [k for k, (n, v) in enumerate(zip(names, init)) if not (is_undefined(v) and n in iterate_names)]
    if index is not None:
        start, limit, delta, element = index
        start = convert_to_tensor(start) if is_symbolic(start) else start
        dtype = start.dtype if isinstance(start, Tensor) else convert_to_tensor(limit).dtype
        i0 = convert_to_tensor(start, dtype=dtype)
    returns = [k for k in carried if names[k].startswith("retval_") and is_undefined(init[k])]
    if returns:  # a return inside the loop: its value enters the loop as zeros of its type
        init = _probe_return_values(init, returns, names, body, get_state, set_state,
                                    element(i0) if index is not None else None)
    init_t = []
    for k in carried:
        name, v = names[k], init[k]
        if is_undefined(v):
            raise ValueError("'%s' must be defined before the loop: it is a loop variable of a tensor-dependent "
                             "loop (assigned in the loop and read in the next iteration or after it)" % name)
        if v is None:
            raise ValueError("'%s' is None before a tensor-dependent loop; loop variables must have tensor "
                             "values" % name)
        init_t.append(_to_tensor(v, name, "(a loop variable)"))

    def set_carried(values):
        full = list(init)
        for k, v in zip(carried, values):
            full[k] = v
        for k, n in enumerate(names):
            if k not in carried:
                full[k] = Undefined(n)
        set_state(tuple(full))

    if index is not None:
        limit_t, delta_t = convert_to_tensor(limit, dtype=dtype), convert_to_tensor(delta, dtype=dtype)
        step = constant_value(delta_t)

        def in_range(i):
            if step is not None:
                return less(i, limit_t) if step > 0 else greater(i, limit_t)
            return logical_or(logical_and(greater(delta_t, 0), less(i, limit_t)),
                              logical_and(less(delta_t, 0), greater(i, limit_t)))

    def cond_fn(*loop_vars):
        loop_vars = list(loop_vars)
        if index is not None:
            i = loop_vars.pop(0)
            set_carried(loop_vars)
            c = in_range(i)
            if extra_test is None:
                return c
            return logical_and(c, _bool(extra_test(), "the loop's break/return test"))
        set_carried(loop_vars)
        return _bool(test(), "the while condition")

    def body_fn(*loop_vars):
        loop_vars = list(loop_vars)
        i = loop_vars.pop(0) if index is not None else None
        set_carried(loop_vars)
        body(element(i) if index is not None else None)
        values = tuple(get_state())
        out = [_loop_value(names[k], values[k], t) for k, t in zip(carried, init_t)]
        if index is not None:
            out.insert(0, i + delta_t)
        return out if out else [convert_to_tensor(0)]

    loop_init = ([i0] if index is not None else []) + init_t
    if not loop_init:
        loop_init = [convert_to_tensor(0)]  # tf.while_loop needs a loop variable
    finals = while_loop(cond_fn, body_fn, loop_init, return_same_structure=True)
    finals = list(finals)
    if index is not None:
        finals.pop(0)
    set_carried(finals[:len(carried)])


def _probe_return_values(init, returns, names, body, get_state, set_state, first_element):
    """Run the body once, in a context nothing consumes, to learn the dtype
    and shape of the values returned inside the loop."""
    with control_flow_util.ControlFlowContext(init_graph(), "while").entered(), _Probing():
        set_state(init)
        body(first_element)
        probed = tuple(get_state())
    set_state(init)
    init = list(init)
    for k in returns:
        v = probed[k]
        if is_undefined(v) or v is None:
            continue  # "must be defined before the loop"
        v = _to_tensor(v, names[k], "(the return value)")
        if not v.shape.is_fully_defined():
            raise ValueError("autograph: a return inside a tensor-dependent loop needs a value of fully known "
                             "shape, got %s" % v.shape)
        init[k] = zeros(v.shape.as_list(), v.dtype)
    return tuple(init)


def _bool(c, what):
    c = convert_to_tensor(c)
    if c.dtype.name != "bool":
        raise TypeError("autograph: %s must be a bool tensor, got %s" % (what, _describe(c)))
    return c


def _loop_value(name, value, entry):
    """A loop variable's value after one iteration, checked against its value before the loop."""
    if is_undefined(value) or value is None:
        raise ValueError("'%s' is %s after one iteration of a tensor-dependent loop; it must keep a tensor value"
                         % (name, "undefined" if value is not None else "None"))
    if not isinstance(value, Tensor):
        value = _to_tensor(value, name, "after one iteration", dtype=entry.dtype)
    if value.dtype is not entry.dtype:
        raise TypeError("'%s' has dtype %s before the loop, but dtype %s after one iteration; a loop variable "
                        "must keep its dtype" % (name, entry.dtype.name, value.dtype.name))
    if not entry.shape.is_compatible_with(value.shape) or \
            (entry.shape.ndims is not None and value.shape.ndims is None):
        raise ValueError("'%s' has shape %s before the loop, but shape %s after one iteration; a loop variable "
                         "must keep its shape (or use tf.while_loop with shape_invariants)"
                         % (name, entry.shape, value.shape))
    return value
