"""tf.data.Dataset: the base class and the source datasets.

A dataset is a Python object describing a pipeline; iterating it makes Python
iterators of *flat elements* (lists of numpy arrays, structure.py). Each
dataset implements one or both of

- ``_iter(env)``: an iterator of flat elements;
- ``_indexed(env)``: ``(arrays, make_chunks)`` when every element is row ``i``
  of the same arrays (from_tensor_slices, and shuffle/take/skip/repeat/cache
  over it): ``make_chunks()`` starts one pass and yields int64 index arrays.
  ``batch`` then gathers whole batches with one ``np.take`` per component, and
  ``shuffle`` shuffles indices (vectorized), not elements.

``env`` (IterationEnv) is what one iterator instantiation sees: the values of
graph tensors the pipeline captured (a TF 1.x initializer's feeds) and the
shuffle seeds of this instantiation.
"""
import itertools
import threading

import numpy as np

from nbflow.data import structure
from nbflow.data.structure import TensorSpec
from nbflow.framework import context, dtypes, errors
from nbflow.framework.eager_tensor import EagerTensor
from nbflow.framework.graph import Tensor
from nbflow.framework.tensor_shape import TensorShape

INFINITE = -1
UNKNOWN = -2
#: rows per index chunk of a slice source
_CHUNK = 65536


class IterationEnv:
    """One instantiation of a pipeline: captured tensors' values, shuffle seeds.

    ``persistent``: shuffles continue their dataset's own sequence of seeds (eager
    iteration: each ``iter(ds)`` reshuffles, deterministically when seeded, as TF 2);
    otherwise each instantiation starts over (a TF 1.x iterator initializer: a seeded
    shuffle repeats its order, an unseeded one draws fresh entropy, as TF 1.x)."""

    def __init__(self, values=None, persistent=True):
        self.values = values or {}
        self.persistent = persistent
        self._iterations = {}
        self._entropy = {}

    def value(self, component):
        if isinstance(component, np.ndarray):
            return component
        try:
            return self.values[component]
        except KeyError:
            raise errors.InvalidArgumentError(
                None, None, "The dataset reads the graph tensor %s, which this iterator was not given (build "
                "the iterator with make_initializable_iterator and feed it to the initializer)"
                % component.name) from None

    def shuffle_rng(self, ds):
        """The Generator of the next pass of shuffle dataset ``ds``."""
        if self.persistent:
            k = next(ds._pass_counter) if ds._reshuffle else 0
            base = ds._seeds
        else:
            counter = self._iterations.setdefault(id(ds), itertools.count())
            k = next(counter) if ds._reshuffle else 0
            base = ds._fixed_seeds
            if base is None:
                base = self._entropy.setdefault(id(ds), tuple(np.random.SeedSequence().generate_state(2)))
        return np.random.Generator(np.random.PCG64([int(base[0]), int(base[1]), k]))


def gather_each(arrays, make_chunks):
    """The elements of an indexed pipeline, one at a time (views of the arrays' rows)."""
    for chunk in make_chunks():
        for i in chunk.tolist():
            yield [a[i, ...] for a in arrays]


def _unique(tensors):
    seen, out = set(), []
    for t in tensors:
        if id(t) not in seen:
            seen.add(id(t))
            out.append(t)
    return out


class Dataset:
    """A pipeline of elements (nests of tensors): ``tf.data.Dataset``."""

    def __init__(self, element_spec, inputs=()):
        self._element_spec = element_spec
        self._flat_specs = structure.flatten(element_spec)
        self._inputs = list(inputs)

    # -- what subclasses provide ----------------------------------------------------------------
    def _iter(self, env):
        ix = self._indexed(env)
        if ix is None:
            raise NotImplementedError(type(self).__name__)
        return gather_each(*ix)

    def _indexed(self, env):
        return None

    def _elements(self, env):
        """Flat elements, one at a time."""
        return self._iter(env)

    def _own_captures(self):
        return []

    def _captures(self):
        """The graph tensors this pipeline reads (TF 1.x placeholders, constants)."""
        out = list(self._own_captures())
        for d in self._inputs:
            out.extend(d._captures())
        return _unique(out)

    def _cardinality(self):
        return UNKNOWN

    # -- the element structure ------------------------------------------------------------------
    @property
    def element_spec(self):
        return self._element_spec

    @property
    def output_types(self):
        return structure.map_structure(lambda s: s.dtype, self._element_spec)

    @property
    def output_shapes(self):
        return structure.map_structure(lambda s: s.shape, self._element_spec)

    @property
    def output_classes(self):
        return structure.map_structure(lambda s: Tensor, self._element_spec)

    def _pack(self, flat):
        return structure.pack(self._element_spec, flat)

    def cardinality(self):
        """The number of elements (``tf.data.INFINITE_CARDINALITY`` -1, ``UNKNOWN_CARDINALITY`` -2)."""
        from nbflow.ops.constant_op import constant
        return constant(self._cardinality(), dtype=dtypes.int64)

    def __len__(self):
        if not context.executing_eagerly():
            raise TypeError("__len__() is not supported while tracing functions. Use `tf.data.Dataset.cardinality` "
                            "instead.")
        n = self._cardinality()
        if n == INFINITE:
            raise TypeError("The dataset is infinite.")
        if n == UNKNOWN:
            raise TypeError("The dataset length is unknown.")
        return n

    def __bool__(self):
        return True

    def __repr__(self):
        return "<%s element_spec=%r>" % (type(self).__name__, self._element_spec)

    # -- iteration -----------------------------------------------------------------------------
    def _numpy_iterator(self, env=None):
        """Iterator of flat elements (the kernels' and eager iteration's source)."""
        if env is None:
            caps = self._captures()
            if caps:
                env = IterationEnv(_static_values(caps), persistent=True)
            else:
                env = IterationEnv()
        return self._elements(env)

    def __iter__(self):
        if not context.executing_eagerly():
            raise RuntimeError("`tf.data.Dataset` only supports Python-style iteration in eager mode or within "
                               "tf.function (in TF 1.x graphs use make_one_shot_iterator or "
                               "make_initializable_iterator).")
        from nbflow.data.iterator_ops import OwnedIterator
        return OwnedIterator(self)

    def as_numpy_iterator(self):
        """An iterator of the elements as numpy values (nests of arrays; bytes for strings).
        Works in graph mode too when the pipeline reads no placeholder."""
        from nbflow.data.iterator_ops import NumpyIterator
        return NumpyIterator(self)

    def make_one_shot_iterator(self):
        from nbflow.data.iterator_ops import make_one_shot_iterator
        return make_one_shot_iterator(self)

    def make_initializable_iterator(self, shared_name=None):
        from nbflow.data.iterator_ops import make_initializable_iterator
        return make_initializable_iterator(self, shared_name)

    # -- sources -------------------------------------------------------------------------------
    @staticmethod
    def from_tensor_slices(tensors, name=None):
        return TensorSliceDataset(tensors)

    @staticmethod
    def from_tensors(tensors, name=None):
        return TensorDataset(tensors)

    @staticmethod
    def from_generator(generator, output_types=None, output_shapes=None, args=None, output_signature=None,
                       name=None):
        return GeneratorDataset(generator, output_types, output_shapes, args, output_signature)

    @staticmethod
    def range(*args, **kwargs):
        return RangeDataset(*args, **kwargs)

    @staticmethod
    def zip(*datasets, name=None):
        if len(datasets) == 1 and isinstance(datasets[0], (tuple, dict)):
            datasets = datasets[0]
        return ZipDataset(datasets)

    # -- transformations (nbflow/data/transforms.py) ----------------------------------------------
    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        return _T.MapDataset(self, map_func)

    def filter(self, predicate, name=None):
        return _T.FilterDataset(self, predicate)

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None, deterministic=None, name=None):
        return _T.BatchDataset(self, batch_size, drop_remainder)

    def padded_batch(self, batch_size, padded_shapes=None, padding_values=None, drop_remainder=False, name=None):
        return _T.PaddedBatchDataset(self, batch_size, padded_shapes, padding_values, drop_remainder)

    def unbatch(self, name=None):
        return _T.UnbatchDataset(self)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True, name=None):
        return _T.ShuffleDataset(self, buffer_size, seed, reshuffle_each_iteration)

    def repeat(self, count=None, name=None):
        return _T.RepeatDataset(self, count)

    def take(self, count, name=None):
        return _T.TakeDataset(self, count)

    def skip(self, count, name=None):
        return _T.SkipDataset(self, count)

    def shard(self, num_shards, index, name=None):
        """Every ``num_shards``-th element, from the ``index``-th (nbflow/data/shard.py)."""
        from nbflow.data.shard import ShardDataset  # shard.py builds on transforms.py, which imports us
        return ShardDataset(self, num_shards, index)

    def prefetch(self, buffer_size, name=None):
        return _T.PrefetchDataset(self, buffer_size)

    def cache(self, filename="", name=None):
        return _T.CacheDataset(self, filename)

    def enumerate(self, start=0, name=None):
        return ZipDataset((RangeDataset(start, np.iinfo(np.int64).max), self))

    def concatenate(self, dataset, name=None):
        return _T.ConcatenateDataset(self, dataset)

    def flat_map(self, map_func, name=None):
        return _T.FlatMapDataset(self, map_func)

    def interleave(self, map_func, cycle_length=None, block_length=None, num_parallel_calls=None,
                   deterministic=None, name=None):
        return _T.InterleaveDataset(self, map_func, cycle_length, block_length)

    def reduce(self, initial_state, reduce_func, name=None):
        return _T.reduce_dataset(self, initial_state, reduce_func)

    def apply(self, transformation_func):
        ds = transformation_func(self)
        if not isinstance(ds, Dataset):
            raise TypeError("`transformation_func` must return a Dataset, got %r" % (ds,))
        return ds

    def with_options(self, options, name=None):
        return self

    def options(self):
        return None


def _static_values(captures):
    """Values of captured graph tensors known without running anything (constants)."""
    values = {}
    for t in captures:
        if t.op.type != "Const":
            raise ValueError("The pipeline reads %s (a %s op): only an initializable iterator can feed it "
                             "(make_initializable_iterator; TF 1.x one-shot iterators capture constants only)"
                             % (t.name, t.op.type))
        values[t] = np.ascontiguousarray(t.op.attrs["value"])
    return values


# -- sources -----------------------------------------------------------------------------------

class TensorSliceDataset(Dataset):
    """The slices of ``tensors`` along their first dimension."""

    def __init__(self, tensors):
        if isinstance(tensors, Dataset):
            raise TypeError("from_tensor_slices takes tensors, not a Dataset")
        components = [structure.to_component(c) for c in structure.flatten(tensors)]
        if not components:
            raise ValueError("from_tensor_slices needs at least one tensor")
        specs = [structure.spec_of(c, drop_first=True) for c in components]
        self._components = components
        dims = {c.shape[0] if isinstance(c, np.ndarray) else c.shape.as_tuple()[0]
                if c.shape.ndims else None for c in components}
        dims.discard(None)
        if len(dims) > 1:
            raise ValueError("Dimensions %s in the tensors of from_tensor_slices are not equal" % sorted(dims))
        self._n = dims.pop() if dims else None
        super().__init__(structure.pack(tensors, specs) if structure.is_nested(tensors) else specs[0])

    def _own_captures(self):
        return [c for c in self._components if isinstance(c, Tensor)]

    def _cardinality(self):
        if self._own_captures() or self._n is None:
            return UNKNOWN
        return self._n

    def _indexed(self, env):
        arrays = [env.value(c) for c in self._components]
        n = arrays[0].shape[0] if arrays[0].ndim else 0
        for a in arrays:
            if a.ndim == 0 or a.shape[0] != n:
                raise errors.InvalidArgumentError(None, None, "from_tensor_slices: all components must have the "
                                                  "same first dimension, got shapes %s"
                                                  % [x.shape for x in arrays])

        def make_chunks():
            for start in range(0, n, _CHUNK):
                yield np.arange(start, min(n, start + _CHUNK), dtype=np.int64)
        return arrays, make_chunks


class TensorDataset(Dataset):
    """One element: ``tensors``."""

    def __init__(self, tensors):
        components = [structure.to_component(c) for c in structure.flatten(tensors)]
        self._components = components
        specs = [structure.spec_of(c) for c in components]
        super().__init__(structure.pack(tensors, specs) if structure.is_nested(tensors) else specs[0])

    def _own_captures(self):
        return [c for c in self._components if isinstance(c, Tensor)]

    def _cardinality(self):
        return 1

    def _iter(self, env):
        yield [env.value(c) for c in self._components]


class RangeDataset(Dataset):
    """``Dataset.range([start,] stop[, step], output_type=tf.int64)``."""

    def __init__(self, *args, output_type=dtypes.int64, dtype=None, name=None):
        if not 1 <= len(args) <= 3:
            raise ValueError("range takes 1 to 3 arguments (start, stop, step), got %d" % len(args))
        vals = [int(np.asarray(a.numpy() if type(a) is EagerTensor else a)) for a in args]
        start, stop, step = (0, vals[0], 1) if len(vals) == 1 else (vals + [1])[:3]
        if step == 0:
            raise errors.InvalidArgumentError(None, None, "step must be != 0")
        self._start, self._stop, self._step = start, stop, step
        self._dtype = dtypes.as_dtype(dtype or output_type)
        self._n = max(0, len(range(start, stop, step)))
        super().__init__(TensorSpec([], self._dtype))

    def _cardinality(self):
        return self._n

    def _iter(self, env):
        npd = self._dtype.as_numpy_dtype
        for v in range(self._start, self._stop, self._step):
            yield [np.array(v, dtype=npd)]

    def _indexed(self, env):
        if self._n > 1 << 24:  # too many to hold as an array: one at a time
            return None
        values = np.arange(self._start, self._stop, self._step, dtype=self._dtype.as_numpy_dtype)

        def make_chunks():
            for start in range(0, len(values), _CHUNK):
                yield np.arange(start, min(len(values), start + _CHUNK), dtype=np.int64)
        return [values], make_chunks


class GeneratorDataset(Dataset):
    """``from_generator``: the elements a Python generator yields, converted and checked."""

    def __init__(self, generator, output_types=None, output_shapes=None, args=None, output_signature=None):
        if not callable(generator):
            raise TypeError("`generator` must be a Python callable.")
        if output_signature is not None:
            if output_types is not None or output_shapes is not None:
                raise TypeError("`output_types` and `output_shapes` cannot be used with `output_signature`.")
            spec = structure.map_structure(_as_spec, output_signature)
        else:
            if output_types is None:
                raise TypeError("from_generator needs `output_signature` or `output_types`.")
            types = structure.map_structure(dtypes.as_dtype, output_types)
            if output_shapes is None:
                spec = structure.map_structure(lambda t: TensorSpec(TensorShape(None), t), types)
            else:
                flat_t = structure.flatten(types)
                flat_s = _flatten_shapes(output_shapes, types) if structure.is_nested(types) else [output_shapes]
                if len(flat_s) != len(flat_t):
                    raise ValueError("`output_shapes` must have the structure of `output_types`")
                spec = structure.pack(types, [TensorSpec(TensorShape(s), t) for s, t in zip(flat_s, flat_t)])
        self._generator = generator
        self._args = tuple(args) if args is not None else ()
        super().__init__(spec)

    def _iter(self, env):
        args = [structure.to_component(a) for a in self._args]
        args = [a.item() if a.dtype == object and a.ndim == 0 else a for a in args]
        specs = self._flat_specs
        for value in self._generator(*args):
            if structure.is_nested(self._element_spec):
                if not structure.same_structure(self._element_spec, value):
                    raise TypeError("`generator` yielded an element that did not match the expected structure. "
                                    "The expected structure was %s, but the yielded element was %r."
                                    % (self.output_types, value))
                flat = structure.flatten(value)
            else:
                flat = [value]
            out = []
            for v, spec in zip(flat, specs):
                try:
                    arr = structure.to_component(v, spec.dtype)
                except (TypeError, ValueError) as e:
                    raise TypeError("`generator` yielded an element that could not be converted to the expected "
                                    "type %s: %r (%s)" % (spec.dtype.name, v, e)) from None
                if not structure.fits(spec, arr):
                    raise errors.InvalidArgumentError(
                        None, None, "`generator` yielded an element of shape %s where an element of shape %s was "
                        "expected." % (list(arr.shape), spec.shape))
                out.append(arr)
            yield out


def _as_spec(s):
    if not isinstance(s, TensorSpec):
        raise TypeError("output_signature must contain TensorSpec objects, got %r" % (s,))
    return s


def _flatten_shapes(shapes, types):
    """Shapes following the nest of ``types`` (a shape is a list, tuple or TensorShape leaf)."""
    if isinstance(types, dict):
        return [s for k in sorted(types) for s in _flatten_shapes(shapes[k], types[k])]
    if isinstance(types, tuple):
        return [s for sub, t in zip(shapes, types) for s in _flatten_shapes(sub, t)]
    return [shapes]


class ZipDataset(Dataset):
    """Elements of several datasets side by side (a nest of datasets)."""

    def __init__(self, datasets):
        flat = structure.flatten(datasets)
        for d in flat:
            if not isinstance(d, Dataset):
                raise TypeError("zip takes a nest of datasets, got %r" % (d,))
        self._datasets = flat
        self._structure = datasets
        super().__init__(structure.pack(datasets, [d.element_spec for d in flat]), flat)

    def _cardinality(self):
        cards = [d._cardinality() for d in self._datasets]
        finite = [c for c in cards if c >= 0]
        if finite:
            return min(finite)
        return UNKNOWN if UNKNOWN in cards else INFINITE

    def _iter(self, env):
        its = [d._elements(env) for d in self._datasets]
        for parts in zip(*its):
            yield [a for p in parts for a in p]


class _Lazy:
    def __getattr__(self, name):
        from nbflow.data import transforms
        return getattr(transforms, name)


_T = _Lazy()
