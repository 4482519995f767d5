"""Dataset.shard(num_shards, index): every ``num_shards``-th element from ``index`` on, as TF.

With MPI, ``dataset.shard(nbflow.distribute.size(), nbflow.distribute.rank())`` gives each
rank its own elements (docs/DISTRIBUTED.md). Shard early (before a shuffle or a map) so each
rank reads only its part.
"""
import itertools

from nbflow.data.transforms import _count, _gather, _Unary
from nbflow.framework import errors


class ShardDataset(_Unary):
    def __init__(self, input_dataset, num_shards, index):
        self._num_shards = _count(num_shards, "num_shards")
        self._index = _count(index, "index")
        if self._num_shards <= 0:
            raise errors.InvalidArgumentError(
                None, None, "Number of shards must be greater than zero (currently num_shards = %d)."
                % self._num_shards)
        if not 0 <= self._index < self._num_shards:
            raise errors.InvalidArgumentError(
                None, None, "Index must be between 0 and %d (currently index = %d)."
                % (self._num_shards - 1, self._index))
        super().__init__(input_dataset)

    def _cardinality(self):
        n = self._input._cardinality()
        if n < 0:
            return n  # INFINITE or UNKNOWN stay so
        full, rest = divmod(n, self._num_shards)
        return full + (1 if self._index < rest else 0)

    def _indexed(self, env):
        ix = self._input._indexed(env)
        if ix is None:
            return None
        arrays, inner = ix
        k, i = self._num_shards, self._index

        def make_chunks():
            position = 0  # of the chunk's first element in the input
            for c in inner():
                picked = c[(i - position) % k::k]
                position += len(c)
                if len(picked):
                    yield picked
        return arrays, make_chunks

    def _iter(self, env):
        ix = self._indexed(env)
        if ix is not None:
            return _gather(ix)
        return itertools.islice(self._input._elements(env), self._index, None, self._num_shards)


