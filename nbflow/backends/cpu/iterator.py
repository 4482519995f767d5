"""CPU kernels of the dataset iterator ops (nbflow/ops/iterator_ops.py).

IteratorV2 creates the IteratorResource behind its handle; MakeIterator starts it
over the pipeline (the ``make_iterator`` callable, given the values of the
tensors the pipeline reads); IteratorGetNext pulls the next flat element -- the
pipeline's own numpy work -- and raises OutOfRangeError at its end.
"""
import numpy as np

from nbflow.backends.registry import register_kernel
from nbflow.framework import errors
from nbflow.ops import iterator_ops
from nbflow.state.resources import IteratorResource


@register_kernel(iterator_ops.IteratorV2)
def _iterator_v2(ctx):
    resources, own = ctx.resources, ctx.own_handle
    make = ctx.attrs.get("make_iterator") if ctx.op_def is iterator_ops.OneShotIterator else None
    if make is None:
        resources.lookup_or_create(own, IteratorResource)
    else:
        # made on first use: the pipeline starts when the plan runs, not while it compiles
        resources.lookup_or_create(own, lambda: IteratorResource(_Lazy(make)))
    handle = np.array(ctx.name, dtype=object)
    return lambda: handle


class _Lazy:
    """A one-shot iterator's pipeline, started by the first pull."""

    def __init__(self, make):
        self._make, self._it = make, None

    def __next__(self):
        if self._it is None:
            self._it = self._make(())
        return next(self._it)

    def close(self):
        close = getattr(self._it, "close", None)
        if close is not None:
            close()


def _iterator_getter(ctx):
    handle, resources = ctx.input_handles[0], ctx.resources

    def get():
        res = resources.get(handle)
        if res is None:
            raise ctx.op_error(errors.NotFoundError, "Iterator '%s' does not exist" % handle.name)
        return res
    return get


@register_kernel(iterator_ops.MakeIterator)
def _make_iterator(ctx):
    get, make = _iterator_getter(ctx), ctx.attrs["make_iterator"]

    def run(handle, *values):
        get().reset(make(values))
    return run


@register_kernel(iterator_ops.IteratorGetNext)
def _iterator_get_next(ctx):
    get = _iterator_getter(ctx)
    types = [t.as_numpy_dtype for t in ctx.attrs["output_types"]]
    shapes = [s.as_tuple() for s in ctx.attrs["output_shapes"]]
    n = len(types)

    def check(flat):
        if len(flat) != n:
            raise ctx.run_error("The pipeline produced %d components, the iterator expects %d" % (len(flat), n))
        out = []
        for a, t, dims in zip(flat, types, shapes):
            if a.dtype != t:
                raise ctx.run_error("The pipeline produced a %s component where the iterator expects %s"
                                    % (a.dtype, np.dtype(t)))
            if dims is not None and (len(dims) != a.ndim or any(d is not None and d != s
                                                                  for d, s in zip(dims, a.shape))):
                raise ctx.run_error("The pipeline produced a component of shape %s where the iterator expects %s"
                                    % (list(a.shape), list(dims)))
            out.append(a if a.flags.c_contiguous else np.ascontiguousarray(a))
        return out

    def run(handle):
        res = get()
        with res.lock:
            it = res.iterator
            if it is None:
                raise ctx.op_error(
                    errors.FailedPreconditionError,
                    "GetNext() failed because the iterator has not been initialized. Ensure that you have run the "
                    "initializer operation for this iterator before getting the next element.")
            try:
                flat = next(it)
            except StopIteration:
                raise ctx.op_error(errors.OutOfRangeError, "End of sequence") from None
        out = check(flat)
        return tuple(out) if n > 1 else out[0]
    return run
