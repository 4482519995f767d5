"""Dataset.shard(num_shards, index) (nbflow/data/shard.py): TF's semantics and errors,
on the indexed (array slices) and element-by-element paths, eagerly and in a graph."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.framework import context


def eager_items(ds):
    with context.eager_mode():
        return [np.asarray(e).tolist() for e in ds.as_numpy_iterator()]


@pytest.mark.parametrize("n,k,i", [(10, 3, 0), (10, 3, 1), (10, 3, 2), (9, 3, 2), (2, 5, 3), (0, 2, 1), (7, 1, 0)])
def test_shard_picks_every_kth_element_from_index(n, k, i):
    expect = list(range(n))[i::k]
    with context.eager_mode():
        ds = tf.data.Dataset.range(n).shard(k, i)
        assert eager_items(ds) == expect
        assert int(ds.cardinality()) == len(expect)
        # the indexed path: slices of an array, batched in chunks after sharding
        arr = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
        sl = tf.data.Dataset.from_tensor_slices(arr).shard(k, i)
        assert eager_items(sl) == arr[i::k].tolist()
        batched = eager_items(tf.data.Dataset.from_tensor_slices(arr).batch(4).unbatch().shard(k, i).batch(3))
        assert sum(batched, []) == arr[i::k].tolist()


def test_shard_partitions_the_data_and_keeps_order_after_a_filter():
    with context.eager_mode():
        base = tf.data.Dataset.range(23).filter(lambda x: tf.equal(x % 2, 0))  # the element-by-element path
        shards = [eager_items(base.shard(4, r)) for r in range(4)]
    assert sorted(sum(shards, [])) == list(range(0, 23, 2))
    assert shards[1] == [2, 10, 18]


def test_shard_of_an_infinite_dataset_and_in_a_graph():
    with context.eager_mode():
        ds = tf.data.Dataset.range(5).repeat().shard(2, 1)
        assert int(ds.cardinality()) == tf.data.INFINITE_CARDINALITY
        assert eager_items(ds.take(6)) == [1, 3, 0, 2, 4, 1]
    with tf.Graph().as_default():
        nxt = tf.data.Dataset.range(8).shard(3, 2).make_one_shot_iterator().get_next()
        got = []
        with tf.Session() as sess:
            while True:
                try:
                    got.append(int(sess.run(nxt)))
                except tf.errors.OutOfRangeError:
                    break
    assert got == [2, 5]


def test_shard_errors_name_the_argument():
    ds = tf.data.Dataset.range(4)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Number of shards must be greater than zero"):
        ds.shard(0, 0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Index must be between 0 and 2 \(currently index = 3\)"):
        ds.shard(3, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Index must be between 0 and 1"):
        ds.shard(2, -1)
