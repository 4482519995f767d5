"""tf.GradientTape: record eager ops, then replay the graph-mode gradients backward.

While a tape records, every differentiable op that reads a watched tensor (a
source, a trainable variable's read, or the output of a recorded op) is kept
as a :class:`TapeOp` -- an Operation-like record of its type, attrs, inputs and
outputs. ``gradient`` walks the records backward and calls the same gradient
functions ``tf.gradients`` uses (``@RegisterGradient``); in eager mode those
functions run their ops at once. Ops run while computing a gradient are
recorded by the other active tapes, which gives nested tapes second
derivatives.
"""
import contextlib
import enum
import logging

import numpy as np

from nbflow.autodiff.gradients import gradients as _graph_gradients
from nbflow.framework import context, nest
from nbflow.framework.eager_tensor import EagerTensor, is_eager_variable
from nbflow.framework.graph import get_default_graph
from nbflow.framework.tape_state import _tapes, _refresh, zero_fills
from nbflow.ops import array_ops, math_ops
from nbflow.ops.base import convert_to_tensor
from nbflow.ops.gradient_registry import get_gradient_function


class UnconnectedGradients(enum.Enum):
    """What ``gradient`` returns for a source the target does not depend on."""

    NONE = "none"
    ZERO = "zero"


def _variable_reads(tape, var):
    return tape._reads.get(id(var), ())


def _flatten(x):
    if type(x) is EagerTensor:
        return [x]
    if type(x) is list and all(type(t) is EagerTensor or _is_variable(t) for t in x):
        return list(x)
    return nest.flatten(x)


_is_variable = is_eager_variable


class GradientTape:
    """Records operations for automatic differentiation (TF 2's ``tf.GradientTape``)."""

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = persistent
        self._watch_accessed = watch_accessed_variables
        self._recording_now = False
        self._used = False
        self.reset()

    # -- recording ----------------------------------------------------------------------
    def __enter__(self):
        self._push()
        return self

    def __exit__(self, *exc):
        if self._recording_now:
            self._pop()

    def _push(self):
        if self._recording_now:
            raise ValueError("Tape is still recording, This can happen if you try to re-enter an already-active "
                             "tape.")
        _tapes.append(self)
        self._recording_now = True
        _refresh()

    def _pop(self):
        _tapes.remove(self)
        self._recording_now = False
        _refresh()

    @contextlib.contextmanager
    def stop_recording(self):
        """Ops in the block are not recorded by this tape."""
        if not self._recording_now:
            raise ValueError("Tape must be recording when stop_recording is called.")
        self._pop()
        try:
            yield
        finally:
            self._push()

    def reset(self):
        """Forget everything recorded (the tape keeps recording if it was)."""
        self._entries = []
        self._watched = {}        # id -> watched tensor
        self._watched_vars = {}   # id -> variable
        self._reads = {}          # id(variable) -> the tensors its reads returned

    def watch(self, tensor):
        """Trace ``tensor`` (a tensor, a variable, or a nest of them)."""
        for t in nest.flatten(tensor):
            if _is_variable(t):
                self._watch_variable(t)
                continue
            if not isinstance(t, EagerTensor):
                t = convert_to_tensor(t)
            if not t.dtype.is_floating:
                logging.getLogger("nbflow").warning(
                    "The dtype of the watched tensor must be floating (e.g. tf.float32), got %r", t.dtype)
            self._watched[id(t)] = t

    def _watch_variable(self, var):
        self._watched_vars[id(var)] = var

    def watched_variables(self):
        return tuple(self._watched_vars.values())

    # -- gradients ------------------------------------------------------------------------
    def gradient(self, target, sources, output_gradients=None, unconnected_gradients=UnconnectedGradients.NONE):
        """d(sum of target)/d(source) for each source, in the structure of ``sources``."""
        if self._used and not self._persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute one set of gradients "
                               "(or jacobians)")
        unconnected = unconnected_gradients if type(unconnected_gradients) is UnconnectedGradients \
            else UnconnectedGradients(unconnected_gradients)
        if not context.executing_eagerly():
            grads = self._graph_gradient(target, sources, output_gradients, unconnected)
            if not self._persistent:
                self._used = True
                self.reset()
            return grads
        was_recording = self._recording_now
        if was_recording:
            self._pop()  # the gradient's own ops are not recorded by this tape
        try:
            flat_targets = [self._target(t) for t in _flatten(target)]
            flat_sources = _flatten(sources)
            for s in flat_sources:
                if s is None:
                    raise ValueError("None is not a valid source: sources must be tensors or variables")
            if output_gradients is not None:
                out_grads = [None if g is None else convert_to_tensor(g) for g in nest.flatten(output_gradients)]
                if len(out_grads) != len(flat_targets):
                    raise ValueError("output_gradients has %d entries, target has %d"
                                     % (len(out_grads), len(flat_targets)))
            else:
                out_grads = [None] * len(flat_targets)
            grads = self._backward(flat_targets, out_grads, flat_sources, unconnected)
        finally:
            if was_recording:
                self._push()
        if not self._persistent:
            self._used = True
            self._release()
        if type(sources) is EagerTensor or _is_variable(sources):
            return grads[0]
        return nest.pack_sequence_as(sources, grads)

    def _release(self):
        """A non-persistent tape frees what it recorded after its one gradient
        (``watched_variables`` still answers, as TF's)."""
        watched_vars = self._watched_vars
        self.reset()
        self._watched_vars = watched_vars

    def _graph_gradient(self, target, sources, output_gradients, unconnected):
        """``gradient`` while a graph is built (a tf.function's trace): the graph-mode
        ``tf.gradients`` on that graph; an eager variable stands for its reads there."""
        graph = get_default_graph()
        reads_of = getattr(graph, "variable_reads", {})
        flat_targets = [convert_to_tensor(t) for t in nest.flatten(target)]
        flat_sources = nest.flatten(sources)
        xs, spans = [], []
        for s in flat_sources:
            if s is None:
                raise ValueError("None is not a valid source: sources must be tensors or variables")
            if _is_variable(s):
                reads = reads_of.get(id(s), ())
                spans.append((len(xs), len(reads)))
                xs.extend(reads)
            else:
                spans.append((len(xs), 1))
                xs.append(s)
        grad_ys = None
        if output_gradients is not None:
            grad_ys = [None if g is None else convert_to_tensor(g) for g in nest.flatten(output_gradients)]
            if len(grad_ys) != len(flat_targets):
                raise ValueError("output_gradients has %d entries, target has %d" % (len(grad_ys), len(flat_targets)))
        grads = _graph_gradients(flat_targets, xs, grad_ys=grad_ys) if xs else []
        result = []
        for s, (start, n) in zip(flat_sources, spans):
            g = _sum([p for p in grads[start:start + n] if p is not None])
            if g is None and unconnected is UnconnectedGradients.ZERO:
                g = array_ops.zeros(s.shape, dtype=s.dtype)
            result.append(g)
        return nest.pack_sequence_as(sources, result)

    def _target(self, t):
        if _is_variable(t):
            return t.value()
        return convert_to_tensor(t)

    def _backward(self, targets, out_grads, sources, unconnected):
        grads = {}  # id(tensor) -> [gradient tensors]
        for t, g in zip(targets, out_grads):
            if g is None:
                g = EagerTensor(np.ones(t._value.shape, t._value.dtype))  # d target / d target
            grads.setdefault(id(t), []).append(g)
        watched = self._watched
        grad_fns = {}
        for entry in reversed(self._entries):
            outputs = entry.outputs
            if len(outputs) == 1:
                gs = grads.get(id(outputs[0]))
                if gs is None:
                    continue
                out = [gs[0] if len(gs) == 1 else _sum(gs)]
            else:
                out = [_sum(grads.get(id(t))) for t in outputs]
                if all(g is None for g in out):
                    continue
            op_type = entry.attrs.get("_gradient_op_type") or entry.op_def.type
            fn = grad_fns.get(op_type, grad_fns)
            if fn is grad_fns:
                fn = grad_fns[op_type] = get_gradient_function(entry)
            if fn is None:
                continue
            filled = False
            for k, (t, g) in enumerate(zip(outputs, out)):
                if g is None and t.dtype.is_floating:
                    out[k] = array_ops.zeros_like(t)
                    zero_fills.add(id(out[k]))
                    filled = True
            inputs = entry.inputs
            entry.skip_input_indices = tuple(i for i, t in enumerate(inputs) if id(t) not in watched)
            try:
                in_grads = fn(entry, *out)
            finally:
                if filled:
                    zero_fills.clear()
            if not isinstance(in_grads, (list, tuple)):
                in_grads = (in_grads,)
            inputs = entry.inputs
            if len(in_grads) != len(inputs):
                raise ValueError("Num gradients %d generated for op %s do not match num inputs %d"
                                 % (len(in_grads), entry.type, len(inputs)))
            for t, g in zip(inputs, in_grads):
                if g is None or id(t) not in watched or not t.dtype.is_floating:
                    continue
                if type(g) is not EagerTensor:
                    g = convert_to_tensor(g)
                grads.setdefault(id(t), []).append(g)
        result = []
        for s in sources:
            if _is_variable(s):
                parts = [g for r in _variable_reads(self, s) for g in grads.get(id(r), ())]
            else:
                parts = grads.get(id(s), [])
            g = _sum(parts)
            if g is None and unconnected is UnconnectedGradients.ZERO:
                g = array_ops.zeros(s.shape, dtype=s.dtype)
            result.append(g)
        return result

    # -- jacobians -------------------------------------------------------------------------
    def jacobian(self, target, sources, unconnected_gradients=UnconnectedGradients.NONE,
                 parallel_iterations=None, experimental_use_pfor=True):
        """d(target[i...])/d(source[j...]): shape target.shape + source.shape per source."""
        return self._jacobian(target, sources, unconnected_gradients, batch=False)

    def batch_jacobian(self, target, source, unconnected_gradients=UnconnectedGradients.NONE,
                       parallel_iterations=None, experimental_use_pfor=True):
        """Per example b: d(target[b, ...])/d(source[b, ...]): shape [B] + target.shape[1:] + source.shape[1:]."""
        return self._jacobian(target, source, unconnected_gradients, batch=True)

    def _jacobian(self, target, sources, unconnected_gradients, batch):
        """One gradient per (per-example) target element, with a one-hot output gradient,
        stacked: ``jacobian`` over the whole target, ``batch_jacobian`` (``batch``) with
        the one-hot repeated for every example of the first dimension."""
        if self._used and not self._persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute one set of gradients "
                               "(or jacobians)")
        target = self._target(target)
        flat_sources = nest.flatten(sources)
        shape = tuple(target.shape.as_list())
        if batch and not shape:
            raise ValueError("Need first dimension of target shape (%s) and source shape to match." % (target.shape,))
        lead = shape[:1] if batch else ()            # the dims every row keeps (the batch)
        inner = int(np.prod(shape[len(lead):], dtype=np.int64))
        persistent, self._persistent = self._persistent, True
        resume = not self._recording_now
        if resume:  # the reshape below is recorded, as TF's jacobian does
            self._push()
        try:
            flat_target = array_ops.reshape(target, list(lead) + [inner])
            rows = []
            for j in range(inner):
                onehot = np.zeros(lead + (inner,), dtype=target.dtype.as_numpy_dtype)
                onehot[..., j] = 1
                rows.append(self.gradient(flat_target, flat_sources, output_gradients=onehot,
                                          unconnected_gradients=unconnected_gradients))
            result = []
            for k, s in enumerate(flat_sources):
                parts = [row[k] for row in rows]
                out_shape = list(shape) + s.shape.as_list()[len(lead):]
                if any(p is None for p in parts):
                    result.append(None)
                elif not parts:
                    result.append(array_ops.zeros(out_shape, dtype=s.dtype))
                else:
                    result.append(array_ops.reshape(array_ops.stack(parts, axis=len(lead)), out_shape))
        finally:
            self._persistent = persistent
            if resume and self._recording_now:
                self._pop()
        if not self._persistent:
            self._used = True
            self._release()
        return nest.pack_sequence_as(sources, result)

def _sum(gs):
    if not gs:
        return None
    if len(gs) == 1:
        return gs[0]
    return math_ops.add_n(gs)
