"""The transformations of tf.data.Dataset (map, batch, shuffle, prefetch, ...).

Data movement (slicing, stacking, padding, shuffling) is numpy; ``map`` and
``filter`` run their traced function (tracing.py) per element. Over an indexed
pipeline (dataset_ops.py) ``batch`` gathers each batch with one ``np.take`` per
component and ``shuffle``/``take``/``skip``/``repeat``/``cache`` work on index
arrays, so ``from_tensor_slices(...).shuffle(n).batch(b)`` does no Python work
per element.
"""
import itertools
import queue
import threading

import numpy as np

from nbflow.data import structure
from nbflow.data.dataset_ops import INFINITE, UNKNOWN, Dataset, IterationEnv
from nbflow.data.structure import TensorSpec
from nbflow.data.tracing import TracedFunction
from nbflow.framework import context, dtypes, errors
from nbflow.framework.eager_tensor import EagerTensor
from nbflow.framework.tensor_shape import TensorShape

#: tf.data.AUTOTUNE
AUTOTUNE = -1
_AUTOTUNE_PREFETCH = 2


def _count(value, what):
    if type(value) is EagerTensor:
        value = value.numpy()
    if hasattr(value, "op") and hasattr(value, "graph"):
        if value.op.type != "Const":
            raise NotImplementedError("%s must be a Python integer or a constant in nbflow, got %r" % (what, value))
        value = value.op.attrs["value"]
    return int(np.asarray(value))


def _count_or_tensor(value, what):
    """A count: a Python int, or a graph tensor the pipeline reads when it runs
    (``repeat(n)`` with ``n`` an element inside ``flat_map``, or a placeholder)."""
    if hasattr(value, "op") and hasattr(value, "graph") and type(value) is not EagerTensor \
            and value.op.type != "Const":
        if value.dtype not in (dtypes.int32, dtypes.int64) or value.shape.ndims not in (0, None):
            raise TypeError("%s must be a scalar integer, got %r" % (what, value))
        return value
    return _count(value, what)


class _Counted:
    """repeat/take/skip: ``_count`` an int or a tensor resolved per instantiation."""

    def _own_captures(self):
        return [] if isinstance(self._count, int) else [self._count]

    def _n(self, env):
        return self._count if isinstance(self._count, int) else int(env.value(self._count))

    def _static_count(self):
        return self._count if isinstance(self._count, int) else None


class _Unary(Dataset):
    def __init__(self, input_dataset, element_spec=None):
        if not isinstance(input_dataset, Dataset):
            raise TypeError("expected a Dataset, got %r" % (input_dataset,))
        self._input = input_dataset
        super().__init__(input_dataset.element_spec if element_spec is None else element_spec, [input_dataset])

    def _cardinality(self):
        return self._input._cardinality()


# -- map / filter -------------------------------------------------------------------------------

class MapDataset(_Unary):
    """``map(fn)``: ``fn`` traced once (tracing.py), its plan run per element."""

    def __init__(self, input_dataset, map_func):
        self._fn = TracedFunction(map_func, input_dataset.element_spec, "map")
        if self._fn.n_outputs == 0:
            raise ValueError("The map function must return a tensor or a nest of tensors")
        super().__init__(input_dataset, self._fn.output_spec)

    def _iter(self, env):
        fn = self._fn
        for flat in self._input._elements(env):
            yield fn(flat)


class FilterDataset(_Unary):
    def __init__(self, input_dataset, predicate):
        self._fn = TracedFunction(predicate, input_dataset.element_spec, "filter")
        spec = self._fn.output_spec
        if not isinstance(spec, TensorSpec) or spec.dtype is not dtypes.bool_ or spec.shape.ndims not in (0, None):
            raise ValueError("`predicate` return type must be convertible to a scalar boolean tensor. Was %r."
                             % (spec,))
        super().__init__(input_dataset)

    def _cardinality(self):
        return INFINITE if self._input._cardinality() == INFINITE else UNKNOWN

    def _iter(self, env):
        fn = self._fn
        for flat in self._input._elements(env):
            if fn(flat)[0]:
                yield flat


# -- batching -----------------------------------------------------------------------------------

def _batch_card(n, batch_size, drop_remainder):
    if n < 0:
        return n
    return n // batch_size if drop_remainder else -(-n // batch_size)


def _stack(items, i):
    try:
        return np.stack(items)
    except ValueError:
        first = items[0].shape
        k = next(j for j, x in enumerate(items) if x.shape != first)
        raise errors.InvalidArgumentError(
            None, None, "Cannot batch tensors with different shapes in component %d. First element had shape %s "
            "and element %d had shape %s." % (i, list(first), k, list(items[k].shape))) from None


class BatchDataset(_Unary):
    def __init__(self, input_dataset, batch_size, drop_remainder=False):
        self._batch_size = _count(batch_size, "batch_size")
        if self._batch_size <= 0:
            raise errors.InvalidArgumentError(None, None, "batch_size must be greater than zero.")
        self._drop = bool(drop_remainder)
        n = self._batch_size if self._drop else None
        super().__init__(input_dataset, structure.map_structure(lambda s: structure.with_batch(s, n),
                                                                input_dataset.element_spec))

    def _cardinality(self):
        return _batch_card(self._input._cardinality(), self._batch_size, self._drop)

    def _iter(self, env):
        inner = self._input
        if type(self) is BatchDataset and type(inner) is MapDataset and inner._fn.batched() is not None:
            # map + batch fused: the map's function once per batch (see TracedFunction.batched)
            ix = inner._input._indexed(env)
            if ix is not None:
                fn = inner._fn.batched()
                return (fn(b) for b in self._gather_batches(*ix))
        ix = inner._indexed(env)
        if ix is not None:
            return self._gather_batches(*ix)
        return self._stack_batches(env)

    def _gather_batches(self, arrays, make_chunks):
        bs, carry = self._batch_size, np.empty(0, np.int64)
        for chunk in make_chunks():
            idx = np.concatenate([carry, chunk]) if len(carry) else chunk
            k = len(idx) // bs
            for j in range(k):
                sel = idx[j * bs:(j + 1) * bs]
                yield [np.take(a, sel, axis=0) for a in arrays]
            carry = idx[k * bs:]
        if len(carry) and not self._drop:
            yield [np.take(a, carry, axis=0) for a in arrays]

    def _stack_batches(self, env):
        bs, buf = self._batch_size, []
        for flat in self._input._elements(env):
            buf.append(flat)
            if len(buf) == bs:
                yield self._make(buf)
                buf = []
        if buf and not self._drop:
            yield self._make(buf)

    def _make(self, buf):
        return [_stack([e[i] for e in buf], i) for i in range(len(buf[0]))]


class PaddedBatchDataset(BatchDataset):
    def __init__(self, input_dataset, batch_size, padded_shapes=None, padding_values=None, drop_remainder=False):
        specs = structure.flatten(input_dataset.element_spec)
        if padded_shapes is None:
            shapes = [s.shape for s in specs]
            if any(sh.ndims is None for sh in shapes):
                raise ValueError("You must provide `padded_shapes` when the element shapes have unknown rank.")
        else:
            shapes = _flatten_like(padded_shapes, input_dataset.element_spec)
        self._padded = []
        for sh, spec in zip(shapes, specs):
            dims = TensorShape(_dims_of(sh))
            if spec.shape.ndims is not None and dims.ndims != spec.shape.ndims:
                raise ValueError("The padded shape %s is not compatible with the shape %s of the component"
                                 % (dims, spec.shape))
            for d, s in zip(dims.as_tuple(), spec.shape.as_tuple() or ()):
                if d is not None and s is not None and d < s:
                    raise ValueError("The padded shape %s is smaller than the component's shape %s"
                                     % (dims, spec.shape))
            self._padded.append(dims.as_tuple())
        if padding_values is None:
            self._values = [np.zeros((), dtype=s.dtype.as_numpy_dtype) if s.dtype is not dtypes.string
                            else np.array(b"", dtype=object) for s in specs]
        else:
            vals = _flatten_like(padding_values, input_dataset.element_spec)
            self._values = [_static(structure.to_component(v, s.dtype), "padding_values") for v, s in zip(vals, specs)]
        super().__init__(input_dataset, batch_size, drop_remainder)
        n = self._batch_size if self._drop else None
        self._element_spec = structure.pack(
            input_dataset.element_spec, [TensorSpec(TensorShape((n,) + p), s.dtype) for p, s in zip(self._padded, specs)])
        self._flat_specs = structure.flatten(self._element_spec)

    def _iter(self, env):
        return self._stack_batches(env)

    def _make(self, buf):
        out = []
        for i, (target, value) in enumerate(zip(self._padded, self._values)):
            items = [e[i] for e in buf]
            full = tuple(t if t is not None else max(x.shape[k] for x in items) for k, t in enumerate(target))
            arr = np.empty((len(items),) + full, dtype=items[0].dtype)
            arr[...] = value
            for j, x in enumerate(items):
                if any(a > b for a, b in zip(x.shape, full)):
                    raise errors.InvalidArgumentError(
                        None, None, "Attempted to pad to a smaller size than the input element: component %d has "
                        "shape %s, padded shape %s." % (i, list(x.shape), list(full)))
                arr[(j,) + tuple(slice(0, s) for s in x.shape)] = x
            out.append(arr)
        return out


def _static(component, what):
    """A component's value now: a graph constant's value, or the array itself."""
    if isinstance(component, np.ndarray):
        return component
    if component.op.type != "Const":
        raise NotImplementedError("%s must be a Python value or a constant in nbflow, got %r" % (what, component))
    return np.asarray(component.op.attrs["value"])


def _dims_of(shape):
    if isinstance(shape, TensorShape):
        return shape.as_tuple()
    if type(shape) is EagerTensor:
        shape = shape.numpy().tolist()
    return tuple(None if (d is None or d == -1) else int(d) for d in shape)


def _flatten_like(value, spec):
    """``value`` flattened along the nest of ``spec`` (its leaves may be lists: shapes)."""
    if isinstance(spec, dict):
        return [x for k in sorted(spec) for x in _flatten_like(value[k], spec[k])]
    if isinstance(spec, tuple):
        if not isinstance(value, (tuple, list)) or len(value) != len(spec):
            raise ValueError("%r does not match the structure of the dataset's elements %r" % (value, spec))
        return [x for v, s in zip(value, spec) for x in _flatten_like(v, s)]
    return [value]


class UnbatchDataset(_Unary):
    def __init__(self, input_dataset):
        super().__init__(input_dataset, structure.map_structure(structure.without_batch, input_dataset.element_spec))

    def _cardinality(self):
        n = self._input._cardinality()
        return INFINITE if n == INFINITE else UNKNOWN

    def _iter(self, env):
        for flat in self._input._elements(env):
            n = flat[0].shape[0]
            if any(a.shape[0] != n for a in flat):
                raise errors.InvalidArgumentError(None, None, "Input element must have the same batch size in "
                                                  "each component. Component 0 had size %d." % n)
            for i in range(n):
                yield [a[i, ...] for a in flat]


# -- order: shuffle, repeat, take, skip ----------------------------------------------------------

def shuffle_chunks(chunks, buffer_size, rng):
    """TF's shuffle buffer over a stream of index arrays, vectorized.

    The buffer fills with the first ``buffer_size`` elements; then each new element
    replaces a uniformly drawn buffer slot, whose old element is emitted; at the end
    the buffer drains in uniformly random order. For a chunk of m new elements with
    draws j_1..j_m, step t emits the element last written to slot j_t before t (or the
    buffer's content), found by a stable sort of the draws."""
    b = buffer_size
    buf = np.empty(b, np.int64)
    count = 0
    for c in chunks:
        if count < b:
            take = min(b - count, len(c))
            buf[count:count + take] = c[:take]
            count += take
            c = c[take:]
            if not len(c):
                continue
        m = len(c)
        j = rng.integers(0, b, size=m)
        order = np.argsort(j, kind="stable")
        js = j[order]
        first = np.empty(m, bool)
        first[0] = True
        np.not_equal(js[1:], js[:-1], out=first[1:])
        out_sorted = np.empty(m, np.int64)
        out_sorted[first] = buf[js[first]]
        later = np.flatnonzero(~first)
        out_sorted[later] = c[order[later - 1]]
        last = np.empty(m, bool)
        last[-1] = True
        last[:-1] = first[1:]
        buf[js[last]] = c[order[last]]
        out = np.empty(m, np.int64)
        out[order] = out_sorted
        yield out
    if count:
        yield buf[:count][rng.permutation(count)]


def shuffle_elements(elements, buffer_size, rng):
    """The same buffer over elements (one at a time)."""
    buf = []
    draws, k = None, 0
    for e in elements:
        if len(buf) < buffer_size:
            buf.append(e)
            continue
        if draws is None or k == len(draws):
            draws, k = rng.integers(0, buffer_size, size=1024), 0
        j = draws[k]
        k += 1
        out, buf[j] = buf[j], e
        yield out
    for j in rng.permutation(len(buf)):
        yield buf[j]


class ShuffleDataset(_Unary):
    def __init__(self, input_dataset, buffer_size, seed=None, reshuffle_each_iteration=True):
        from nbflow.ops.random_ops import get_seed
        self._buffer_size = _count(buffer_size, "buffer_size")
        if self._buffer_size <= 0:
            raise errors.InvalidArgumentError(None, None, "buffer_size must be greater than zero.")
        if seed is not None:
            seed = _count(seed, "seed")
        s1, s2 = get_seed(seed)
        self._fixed_seeds = None if s1 is None else (s1, s2)
        self._seeds = self._fixed_seeds or tuple(int(x) for x in np.random.SeedSequence().generate_state(2))
        self._reshuffle = bool(reshuffle_each_iteration)
        self._pass_counter = itertools.count()
        super().__init__(input_dataset)

    def _indexed(self, env):
        ix = self._input._indexed(env)
        if ix is None:
            return None
        arrays, inner = ix
        return arrays, lambda: shuffle_chunks(inner(), self._buffer_size, env.shuffle_rng(self))

    def _iter(self, env):
        ix = self._indexed(env)
        if ix is not None:
            return _gather(ix)
        return shuffle_elements(self._input._elements(env), self._buffer_size, env.shuffle_rng(self))


def _gather(ix):
    from nbflow.data.dataset_ops import gather_each
    return gather_each(*ix)


class RepeatDataset(_Counted, _Unary):
    def __init__(self, input_dataset, count=None):
        self._count = -1 if count is None else _count_or_tensor(count, "count")
        super().__init__(input_dataset)

    def _cardinality(self):
        n, count = self._input._cardinality(), self._static_count()
        if count is None:
            return INFINITE if n == INFINITE else UNKNOWN
        if count == 0 or n == 0:
            return 0
        if count < 0:
            return UNKNOWN if n == UNKNOWN else INFINITE
        return n * count if n >= 0 else n

    def _passes(self, env):
        count = self._n(env)
        return itertools.count() if count < 0 else range(count)

    def _indexed(self, env):
        ix = self._input._indexed(env)
        if ix is None:
            return None
        arrays, inner = ix

        def make_chunks():
            for _ in self._passes(env):
                produced = 0
                for c in inner():
                    produced += len(c)
                    yield c
                if not produced:
                    return
        return arrays, make_chunks

    def _iter(self, env):
        ix = self._indexed(env)
        if ix is not None:
            yield from _gather(ix)
            return
        for _ in self._passes(env):
            produced = False
            for e in self._input._elements(env):
                produced = True
                yield e
            if not produced:
                return


class TakeDataset(_Counted, _Unary):
    def __init__(self, input_dataset, count):
        self._count = _count_or_tensor(count, "count")
        super().__init__(input_dataset)

    def _cardinality(self):
        n, count = self._input._cardinality(), self._static_count()
        if count is None:
            return UNKNOWN
        if count < 0:
            return n
        if n == INFINITE:
            return count
        return min(n, count) if n >= 0 else UNKNOWN

    def _indexed(self, env):
        ix = self._input._indexed(env)
        count = self._n(env)
        if ix is None or count < 0:
            return ix
        arrays, inner = ix

        def make_chunks():
            left = count
            if left <= 0:
                return
            for c in inner():
                if len(c) >= left:
                    yield c[:left]
                    return
                left -= len(c)
                yield c
        return arrays, make_chunks

    def _iter(self, env):
        ix = self._indexed(env)
        if ix is not None:
            return _gather(ix)
        count = self._n(env)
        if count < 0:
            return self._input._elements(env)
        return itertools.islice(self._input._elements(env), count)


class SkipDataset(_Counted, _Unary):
    def __init__(self, input_dataset, count):
        self._count = _count_or_tensor(count, "count")
        super().__init__(input_dataset)

    def _cardinality(self):
        n, count = self._input._cardinality(), self._static_count()
        if n < 0 or count is None:
            return n if n < 0 else UNKNOWN
        return 0 if count < 0 else max(0, n - count)

    def _indexed(self, env):
        ix = self._input._indexed(env)
        if ix is None:
            return None
        arrays, inner = ix
        count = self._n(env)

        def make_chunks():
            left = count
            for c in inner():
                if left < 0:
                    continue
                if left:
                    k = min(left, len(c))
                    left -= k
                    c = c[k:]
                if len(c):
                    yield c
        return arrays, make_chunks

    def _iter(self, env):
        ix = self._indexed(env)
        if ix is not None:
            return _gather(ix)
        count = self._n(env)
        if count < 0:
            return iter(())
        return itertools.islice(self._input._elements(env), count, None)


class ConcatenateDataset(_Unary):
    def __init__(self, input_dataset, other):
        if not isinstance(other, Dataset):
            raise TypeError("concatenate takes a Dataset, got %r" % (other,))
        a, b = input_dataset.element_spec, other.element_spec
        if not structure.same_structure(a, b):
            raise TypeError("Two datasets to concatenate have different structures: %r and %r" % (a, b))
        spec = structure.pack(a, [structure.most_specific_compatible(x, y)
                                  for x, y in zip(structure.flatten(a), structure.flatten(b))])
        self._other = other
        super().__init__(input_dataset, spec)
        self._inputs.append(other)

    def _cardinality(self):
        a, b = self._input._cardinality(), self._other._cardinality()
        if INFINITE in (a, b):
            return INFINITE
        return UNKNOWN if UNKNOWN in (a, b) else a + b

    def _iter(self, env):
        yield from self._input._elements(env)
        yield from self._other._elements(env)


# -- prefetch, cache ------------------------------------------------------------------------------

_END = object()


class _Failure:
    def __init__(self, exc):
        self.exc = exc


def prefetch_elements(elements, buffer_size):
    """``elements`` produced by a background thread into a queue of ``buffer_size``.

    Errors reach the consumer at the element where they happened. Closing the
    generator (or dropping it: iteration stopped early) stops the thread: it
    checks a flag between elements and never blocks on a full queue for good."""
    q = queue.Queue(maxsize=max(1, buffer_size))
    stop = threading.Event()

    def produce():
        try:
            for e in elements:
                while not stop.is_set():
                    try:
                        q.put(e, timeout=0.05)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            item = _END
        except BaseException as exc:  # noqa: BLE001 -- handed to the consumer
            item = _Failure(exc)
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    thread = threading.Thread(target=produce, name="nbflow-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if type(item) is _Failure:
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join(timeout=5.0)


class PrefetchDataset(_Unary):
    def __init__(self, input_dataset, buffer_size):
        n = _count(buffer_size, "buffer_size")
        if n == 0:
            n = None  # prefetch(0): a pass-through, as TF's legacy autotune
        elif n < 0:
            n = _AUTOTUNE_PREFETCH
        self._buffer_size = n
        super().__init__(input_dataset)

    def _iter(self, env):
        if self._buffer_size is None:
            return self._input._elements(env)
        return prefetch_elements(self._input._elements(env), self._buffer_size)


class CacheDataset(_Unary):
    """``cache()`` in memory: the first complete pass is recorded and replayed after."""

    def __init__(self, input_dataset, filename=""):
        if filename:
            raise NotImplementedError("Dataset.cache(filename) (a cache on disk) is not implemented in nbflow; "
                                      "use cache() to cache in memory")
        self._lock = threading.Lock()
        self._chunks = None    # indexed pipelines: the index chunks of the first complete pass
        self._elements_ = None
        super().__init__(input_dataset)

    def _indexed(self, env):
        ix = self._input._indexed(env)
        if ix is None:
            return None
        arrays, inner = ix

        def make_chunks():
            if self._chunks is not None:
                yield from self._chunks
                return
            seen = []
            for c in inner():
                seen.append(c)
                yield c
            with self._lock:
                if self._chunks is None:
                    self._chunks = seen
        return arrays, make_chunks

    def _iter(self, env):
        ix = self._indexed(env)
        if ix is not None:
            yield from _gather(ix)
            return
        if self._elements_ is not None:
            yield from self._elements_
            return
        seen = []
        for e in self._input._elements(env):
            seen.append(e)
            yield e
        with self._lock:
            if self._elements_ is None:
                self._elements_ = seen


# -- datasets of datasets: flat_map, interleave ---------------------------------------------------

class _DatasetFunction:
    """``fn(element) -> Dataset`` traced once: the returned pipeline may read tensors
    computed from the element (placeholders of the trace); each element runs a plan
    that computes them, then iterates the pipeline with their values."""

    def __init__(self, fn, input_spec):
        def grab(out, captured):
            if not isinstance(out, Dataset):
                raise TypeError("The function must return a tf.data.Dataset, got %r" % (out,))
            captured["dataset"] = out
            return tuple(out._captures())
        self._fn = TracedFunction(fn, input_spec, "flat_map", wrap_output=grab)
        self.dataset = self._fn.extra["dataset"]
        self._captures = self.dataset._captures()

    def __call__(self, flat):
        values = self._fn(flat)
        return self.dataset._elements(IterationEnv(dict(zip(self._captures, values)), persistent=True))


class FlatMapDataset(_Unary):
    def __init__(self, input_dataset, map_func):
        self._fn = _DatasetFunction(map_func, input_dataset.element_spec)
        super().__init__(input_dataset, self._fn.dataset.element_spec)

    def _cardinality(self):
        return INFINITE if self._input._cardinality() == INFINITE else UNKNOWN

    def _iter(self, env):
        for flat in self._input._elements(env):
            yield from self._fn(flat)


class InterleaveDataset(FlatMapDataset):
    def __init__(self, input_dataset, map_func, cycle_length=None, block_length=None):
        super().__init__(input_dataset, map_func)
        cl = AUTOTUNE if cycle_length is None else _count(cycle_length, "cycle_length")
        self._cycle = 4 if cl < 0 else cl
        self._block = 1 if block_length is None else _count(block_length, "block_length")

    def _iter(self, env):
        inputs = self._input._elements(env)
        active = []
        exhausted = False
        while True:
            while not exhausted and len(active) < self._cycle:
                nxt = next(inputs, None)
                if nxt is None:
                    exhausted = True
                else:
                    active.append(self._fn(nxt))
            if not active:
                return
            keep = []
            for it in active:
                alive = True
                for _ in range(self._block):
                    e = next(it, None)
                    if e is None:
                        alive = False
                        break
                    yield e
                if alive:
                    keep.append(it)
                elif not exhausted:
                    nxt = next(inputs, None)
                    if nxt is None:
                        exhausted = True
                    else:
                        keep.append(self._fn(nxt))
            active = keep


# -- reduce ----------------------------------------------------------------------------------------

def reduce_dataset(dataset, initial_state, reduce_func):
    """``Dataset.reduce``: ``reduce_func(state, element)`` traced for the state's spec (a
    state whose shape changes is traced again with the differing dims unknown). Eagerly
    the result is eager tensors; in a graph the pipeline runs now and the result is
    constants (nbflow has no ReduceDataset op)."""
    from nbflow.ops.constant_op import constant
    state = structure.map_structure(structure.to_component, initial_state)
    if any(not isinstance(s, np.ndarray) for s in structure.flatten(state)):
        raise NotImplementedError("Dataset.reduce with an initial state computed by graph ops is not "
                                  "supported in nbflow")
    elem_spec = dataset.element_spec
    flat_state = structure.flatten(state)
    spec = structure.map_structure(structure.spec_of, state)
    traced = {}
    for flat in dataset._numpy_iterator():
        key = tuple((s.dtype, s.shape.as_tuple()) for s in structure.flatten(spec))
        fn = traced.get(key)
        if fn is None:
            fn = traced[key] = TracedFunction(reduce_func, (spec, elem_spec), "reduce")
        new = fn(flat_state + list(flat))
        if len(new) != len(flat_state) or any(a.dtype != b.dtype for a, b in zip(new, flat_state)):
            raise TypeError("The reduce function must return a state with the initial state's structure and "
                            "dtypes")
        spec = structure.pack(spec, [structure.most_specific_compatible(s, structure.spec_of(a))
                                     for s, a in zip(structure.flatten(spec), new)])
        flat_state = new
    result = structure.pack(state, flat_state)
    if context.executing_eagerly():
        return structure.map_structure(EagerTensor, result)
    return structure.map_structure(constant, result)
