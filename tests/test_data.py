"""tf.data: every transformation against a plain-Python reference, element_spec, eager
iteration, TF 1.x graph iterators (OutOfRangeError, re-initialization), a training loop."""
import collections
import threading
import time

import numpy as np
import pytest

import nbflow as tf
from nbflow.data.transforms import shuffle_chunks, shuffle_elements
from nbflow.framework import context


def items(ds):
    """The elements as nests of plain Python values (lists for arrays)."""
    def py(x):
        if isinstance(x, dict):
            return {k: py(v) for k, v in x.items()}
        if isinstance(x, tuple):
            return tuple(py(v) for v in x)
        return x.tolist() if isinstance(x, np.ndarray) else x
    return [py(e) for e in ds.as_numpy_iterator()]


def graph_items(ds, initializable=True, feed_dict=None):
    it = ds.make_initializable_iterator() if initializable else ds.make_one_shot_iterator()
    nxt = it.get_next()
    out = []
    with tf.Session() as sess:
        if initializable:
            sess.run(it.initializer, feed_dict=feed_dict)
        while True:
            try:
                out.append(sess.run(nxt))
            except tf.errors.OutOfRangeError:
                break
    return out


# -- sources -----------------------------------------------------------------------------------

def test_from_tensor_slices_tuple_dict_and_lists():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    ds = tf.data.Dataset.from_tensor_slices((x, np.arange(6)))
    assert items(ds) == [(x[i].tolist(), i) for i in range(6)]
    spec = ds.element_spec
    assert spec[0] == tf.TensorSpec([2], tf.float32) and spec[1] == tf.TensorSpec([], tf.int64)
    d = tf.data.Dataset.from_tensor_slices({"a": [1, 2, 3], "b": [[1.0], [2.0], [3.0]]})
    assert d.element_spec == {"a": tf.TensorSpec([], tf.int32), "b": tf.TensorSpec([1], tf.float32)}
    assert items(d) == [{"a": i + 1, "b": [i + 1.0]} for i in range(3)]
    with pytest.raises(ValueError):
        tf.data.Dataset.from_tensor_slices((np.zeros(3), np.zeros(4)))


def test_from_tensors_range_zip_enumerate():
    assert items(tf.data.Dataset.from_tensors(([1, 2], 3))) == [([1, 2], 3)]
    assert items(tf.data.Dataset.range(5)) == list(range(5))
    assert items(tf.data.Dataset.range(2, 10, 3)) == list(range(2, 10, 3))
    assert items(tf.data.Dataset.range(5, 0, -2)) == [5, 3, 1]
    assert tf.data.Dataset.range(3).element_spec == tf.TensorSpec([], tf.int64)
    z = tf.data.Dataset.zip((tf.data.Dataset.range(3), tf.data.Dataset.range(10, 20)))
    assert items(z) == [(0, 10), (1, 11), (2, 12)]
    zd = tf.data.Dataset.zip({"x": tf.data.Dataset.range(2), "y": tf.data.Dataset.range(5)})
    assert items(zd) == [{"x": 0, "y": 0}, {"x": 1, "y": 1}]
    e = tf.data.Dataset.from_tensor_slices([7, 8]).enumerate(start=3)
    assert items(e) == [(3, 7), (4, 8)]


def test_from_generator_types_shapes_args_and_signature():
    def gen(n):
        for i in range(n):
            yield i, [float(i)] * i
    ds = tf.data.Dataset.from_generator(gen, (tf.int32, tf.float32), (tf.TensorShape([]), tf.TensorShape([None])),
                                        args=(3,))
    assert ds.element_spec == (tf.TensorSpec([], tf.int32), tf.TensorSpec([None], tf.float32))
    assert items(ds) == [(0, []), (1, [1.0]), (2, [2.0, 2.0])]
    sig = tf.data.Dataset.from_generator(lambda: iter([{"a": 1}, {"a": 2}]),
                                         output_signature={"a": tf.TensorSpec([], tf.int64)})
    assert items(sig) == [{"a": 1}, {"a": 2}]
    # iterating twice calls the generator again
    assert items(ds) == items(ds)
    bad = tf.data.Dataset.from_generator(lambda: iter([[1, 2]]), tf.int32, tf.TensorShape([3]))
    with pytest.raises(tf.errors.InvalidArgumentError):
        items(bad)
    bad_struct = tf.data.Dataset.from_generator(lambda: iter([1]), (tf.int32, tf.int32))
    with pytest.raises(TypeError):
        items(bad_struct)


# -- map / filter ----------------------------------------------------------------------------------

def test_map_traced_once_and_matches_python():
    calls = []

    def fn(x, y):
        calls.append(1)   # a Python side effect: runs once, at trace time
        return {"sum": x + y, "prod": x * y}
    ds = tf.data.Dataset.from_tensor_slices((np.arange(5), np.arange(5) * 10)).map(fn)
    assert len(calls) == 1
    assert ds.element_spec == {"sum": tf.TensorSpec([], tf.int64), "prod": tf.TensorSpec([], tf.int64)}
    assert items(ds) == [{"sum": i * 11, "prod": i * i * 10} for i in range(5)]
    assert items(ds) == [{"sum": i * 11, "prod": i * i * 10} for i in range(5)]
    assert len(calls) == 1


def test_map_single_dict_and_python_outputs():
    ds = tf.data.Dataset.from_tensor_slices({"a": np.arange(3.0, dtype=np.float32)})
    m = ds.map(lambda d: (d["a"] * 2.0, 1))
    assert m.element_spec == (tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.int32))
    assert items(m) == [(0.0, 1), (2.0, 1), (4.0, 1)]
    img = tf.data.Dataset.from_tensor_slices(np.ones((4, 2, 2), np.uint8)).map(
        lambda x: tf.reshape(tf.cast(x, tf.float32) / 255.0, [-1]), num_parallel_calls=tf.data.AUTOTUNE)
    assert img.element_spec == tf.TensorSpec([4], tf.float32)
    np.testing.assert_allclose(next(img.as_numpy_iterator()), np.full(4, 1 / 255, np.float32))


def test_filter():
    ds = tf.data.Dataset.range(20).filter(lambda x: tf.equal(x % 3, 0))
    assert items(ds) == [i for i in range(20) if i % 3 == 0]
    with pytest.raises(ValueError):
        tf.data.Dataset.range(3).filter(lambda x: x)


# -- batching --------------------------------------------------------------------------------------

@pytest.mark.parametrize("drop", [False, True])
@pytest.mark.parametrize("mapped", [False, True])
def test_batch_matches_python(drop, mapped):
    x = np.arange(22).reshape(11, 2)
    ds = tf.data.Dataset.from_tensor_slices((x, np.arange(11)))
    if mapped:  # the element-by-element path (np.stack) instead of index gathering
        ds = ds.map(lambda a, b: (a, b))
    b = ds.batch(4, drop_remainder=drop)
    ref = [(x[i:i + 4].tolist(), list(range(i, min(i + 4, 11)))) for i in range(0, 11, 4)]
    if drop:
        ref = ref[:-1]
    assert items(b) == ref
    assert b.element_spec[0] == tf.TensorSpec([4 if drop else None, 2], tf.int64)
    assert int(b.cardinality()) if context.executing_eagerly() else True
    with tf.Session() as sess:
        assert sess.run(b.cardinality()) == (2 if drop else 3)


def test_batch_shape_mismatch_raises():
    ds = tf.data.Dataset.from_generator(lambda: iter([[1], [1, 2]]), tf.int32, tf.TensorShape([None]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="different shapes"):
        items(ds.batch(2))


def test_padded_batch():
    ds = tf.data.Dataset.range(1, 6).map(lambda n: tf.fill([n], n))
    pb = ds.padded_batch(2, padded_shapes=[None])
    assert pb.element_spec == tf.TensorSpec([None, None], tf.int64)
    assert items(pb) == [[[1, 0], [2, 2]], [[3, 3, 3, 0], [4, 4, 4, 4]], [[5, 5, 5, 5, 5]]]
    fixed = ds.padded_batch(2, padded_shapes=[6], padding_values=tf.constant(-1, tf.int64), drop_remainder=True)
    assert fixed.element_spec == tf.TensorSpec([2, 6], tf.int64)
    assert items(fixed)[0] == [[1, -1, -1, -1, -1, -1], [2, 2, -1, -1, -1, -1]]
    assert len(items(fixed)) == 2
    with pytest.raises(tf.errors.InvalidArgumentError):
        items(ds.padded_batch(2, padded_shapes=[3]))
    # default padded_shapes: pad to the longest
    assert items(ds.take(2).padded_batch(2)) == [[[1, 0], [2, 2]]]


def test_unbatch():
    x = np.arange(12).reshape(3, 2, 2)
    ds = tf.data.Dataset.from_tensor_slices(x).unbatch()
    assert ds.element_spec == tf.TensorSpec([2], tf.int64)
    assert items(ds) == x.reshape(6, 2).tolist()
    assert items(tf.data.Dataset.range(7).batch(3).unbatch()) == list(range(7))


# -- order -------------------------------------------------------------------------------------

def reference_shuffle(xs, b, draws):
    """TF's buffer: fill, then emit a uniformly drawn slot and put the next element there."""
    buf, out = [], []
    it = iter(draws)
    for x in xs:
        if len(buf) < b:
            buf.append(x)
            continue
        j = next(it)
        out.append(buf[j])
        buf[j] = x
    return out, buf


def test_shuffle_chunks_is_the_buffer_algorithm():
    rng = np.random.default_rng(0)
    xs = np.arange(1000)
    b = 37
    chunks = [xs[:10], xs[10:300], xs[300:301], xs[301:]]
    r1 = np.random.Generator(np.random.PCG64(5))
    got = np.concatenate(list(shuffle_chunks(iter(chunks), b, r1)))
    # replay the same draws through the one-at-a-time reference
    r2 = np.random.Generator(np.random.PCG64(5))
    draws = []
    filled = 0
    for c in chunks:
        k = min(b - filled, len(c))
        filled += k
        if len(c) > k:
            draws.extend(r2.integers(0, b, size=len(c) - k).tolist())
    out, buf = reference_shuffle(xs.tolist(), b, draws)
    tail = np.asarray(buf)[r2.permutation(len(buf))].tolist()
    assert got.tolist() == out + tail
    assert sorted(got.tolist()) == xs.tolist()
    del rng


@pytest.mark.parametrize("mapped", [False, True])
def test_shuffle_buffer_semantics(mapped):
    base = tf.data.Dataset.range(100)
    if mapped:
        base = base.map(lambda x: x)
    assert items(base.shuffle(1, seed=3)) == list(range(100))
    full = items(base.shuffle(100, seed=3))
    assert sorted(full) == list(range(100)) and full != list(range(100))
    k = 10
    small = items(base.shuffle(k, seed=3))
    assert sorted(small) == list(range(100))
    # with a buffer of k, position p holds an element < p + k
    assert all(v < p + k for p, v in enumerate(small))
    assert small[0] < k


def test_shuffle_seeded_determinism_and_reshuffle():
    ds = tf.data.Dataset.range(50).shuffle(50, seed=7)
    first = items(ds)
    assert items(tf.data.Dataset.range(50).shuffle(50, seed=7)) == first   # same seed: same order
    # a second pass of the same dataset (eager-style iteration) reshuffles, deterministically
    second = items(ds)
    assert second != first
    ds2 = tf.data.Dataset.range(50).shuffle(50, seed=7)
    items(ds2)
    assert items(ds2) == second
    fixed = tf.data.Dataset.range(50).shuffle(50, seed=7, reshuffle_each_iteration=False)
    assert items(fixed) == items(fixed)
    # repeat reshuffles each epoch
    rep = items(tf.data.Dataset.range(10).shuffle(10, seed=1).repeat(3))
    epochs = [rep[i:i + 10] for i in (0, 10, 20)]
    assert all(sorted(e) == list(range(10)) for e in epochs)
    assert epochs[0] != epochs[1] or epochs[1] != epochs[2]


def test_shuffle_graph_seed():
    tf.set_random_seed(42)
    a = graph_items(tf.data.Dataset.range(30).shuffle(30))
    tf.reset_default_graph()
    tf.set_random_seed(42)
    b = graph_items(tf.data.Dataset.range(30).shuffle(30))
    assert a == b and sorted(a) == list(range(30))


def test_repeat_take_skip_against_python():
    ref = list(range(7))
    for mapped in (False, True):
        ds = tf.data.Dataset.range(7)
        if mapped:
            ds = ds.map(lambda x: x)
        assert items(ds.repeat(3)) == ref * 3
        assert items(ds.repeat().take(17)) == (ref * 3)[:17]
        assert items(ds.take(3)) == ref[:3]
        assert items(ds.take(-1)) == ref
        assert items(ds.skip(5)) == ref[5:]
        assert items(ds.skip(-1)) == []
        assert items(ds.skip(2).take(3).repeat(2)) == ref[2:5] * 2
        assert items(ds.take(0).repeat()) == []   # repeating nothing ends
    with tf.Session() as sess:
        assert sess.run(tf.data.Dataset.range(7).repeat().cardinality()) == tf.data.INFINITE_CARDINALITY
        assert sess.run(tf.data.Dataset.range(7).repeat(2).skip(3).take(5).cardinality()) == 5
        assert sess.run(tf.data.Dataset.range(7).filter(lambda x: x > 2).cardinality()) == \
            tf.data.UNKNOWN_CARDINALITY


def test_concatenate_cache_flat_map_interleave_reduce():
    a, b = tf.data.Dataset.range(3), tf.data.Dataset.range(10, 12)
    assert items(a.concatenate(b)) == [0, 1, 2, 10, 11]
    calls = []

    def gen():
        calls.append(1)
        yield from range(3)
    cached = tf.data.Dataset.from_generator(gen, tf.int64, tf.TensorShape([])).cache()
    assert items(cached) == items(cached) == [0, 1, 2]
    assert len(calls) == 1
    sc = tf.data.Dataset.range(10).shuffle(10, seed=2).cache()
    assert items(sc) == items(sc)   # the first pass's order is replayed
    with pytest.raises(NotImplementedError):
        a.cache("/tmp/x")
    fm = tf.data.Dataset.range(1, 4).flat_map(lambda n: tf.data.Dataset.from_tensors(n).repeat(n))
    assert items(fm) == [1, 2, 2, 3, 3, 3]
    fm2 = tf.data.Dataset.from_tensor_slices(np.arange(6).reshape(3, 2)).flat_map(
        lambda row: tf.data.Dataset.from_tensor_slices(row * 10))
    assert items(fm2) == [0, 10, 20, 30, 40, 50]
    il = tf.data.Dataset.range(1, 4).interleave(lambda n: tf.data.Dataset.from_tensors(n).repeat(3),
                                                cycle_length=2, block_length=2)
    assert items(il) == [1, 1, 2, 2, 1, 2, 3, 3, 3]
    total = tf.data.Dataset.range(10).reduce(np.int64(0), lambda s, x: s + x)
    with tf.Session() as sess:
        assert sess.run(total) == 45
    with context.eager_mode():
        assert tf.data.Dataset.range(5).reduce(np.int64(1), lambda s, x: s * (x + 1)).numpy() == 120


# -- prefetch ----------------------------------------------------------------------------------

def _prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "nbflow-prefetch"]


def test_prefetch_order_errors_and_threads_exit():
    before = len(_prefetch_threads())
    assert items(tf.data.Dataset.range(100).prefetch(3)) == list(range(100))
    assert items(tf.data.Dataset.range(10).batch(3).prefetch(tf.data.experimental.AUTOTUNE)) == \
        [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]

    def bad():
        yield 1
        raise RuntimeError("boom in the generator")
    it = tf.data.Dataset.from_generator(bad, tf.int64).prefetch(2).as_numpy_iterator()
    assert next(it) == 1
    with pytest.raises(RuntimeError, match="boom"):
        next(it)
    # stopping early: the producer (blocked on a full queue) exits
    it = tf.data.Dataset.range(10 ** 6).prefetch(2).as_numpy_iterator()
    assert next(it) == 0
    assert len(_prefetch_threads()) == before + 1
    del it
    deadline = time.time() + 5
    while len(_prefetch_threads()) > before and time.time() < deadline:
        time.sleep(0.01)
    assert len(_prefetch_threads()) == before


# -- structure -------------------------------------------------------------------------------------

def test_element_spec_and_output_types():
    Point = collections.namedtuple("Point", "x y")
    ds = tf.data.Dataset.from_tensor_slices(Point(np.zeros((3, 2), np.float32), np.zeros(3, np.int32)))
    assert isinstance(ds.element_spec, Point)
    assert ds.output_types == Point(tf.float32, tf.int32)
    assert ds.output_shapes.x.as_list() == [2]
    m = ds.map(lambda p: p.x[0] + tf.cast(p.y, tf.float32))   # a namedtuple is one argument
    assert m.element_spec == tf.TensorSpec([], tf.float32)
    assert isinstance(next(ds.as_numpy_iterator()), Point)


# -- eager ----------------------------------------------------------------------------------------

def test_eager_iteration():
    with context.eager_mode():
        ds = tf.data.Dataset.from_tensor_slices((np.arange(6.0), np.arange(6))).shuffle(6, seed=1).batch(4)
        batches = [(x, y) for x, y in ds]
        assert [type(x).__name__ for x, _ in batches] == ["EagerTensor", "EagerTensor"]
        assert sorted(np.concatenate([y.numpy() for _, y in batches]).tolist()) == list(range(6))
        it = iter(tf.data.Dataset.range(2))
        assert next(it).numpy() == 0 and next(it).numpy() == 1
        with pytest.raises(StopIteration):
            next(it)
        one = tf.compat.v1.data.make_one_shot_iterator(tf.data.Dataset.range(1))
        assert one.get_next().numpy() == 0
        with pytest.raises(tf.errors.OutOfRangeError):
            one.get_next()
        with pytest.raises(RuntimeError):
            tf.data.Dataset.range(2).make_initializable_iterator()
        assert len(tf.data.Dataset.range(5).batch(2)) == 3
        # a map function in an eager program is still traced once
        n = []
        m = tf.data.Dataset.range(4).map(lambda x: (n.append(1), x * 2)[1])
        assert [int(v) for v in m] == [0, 2, 4, 6] and len(n) == 1
    with pytest.raises(RuntimeError, match="eager"):
        iter(tf.data.Dataset.range(2))


# -- graph iterators ---------------------------------------------------------------------------------

def test_initializable_iterator_out_of_range_and_reinit():
    ds = tf.data.Dataset.from_tensor_slices((np.arange(5), np.arange(5) * 2.0)).batch(2)
    it = tf.data.make_initializable_iterator(ds)
    x, y = it.get_next()
    assert x.dtype == tf.int64 and y.dtype == tf.float64
    assert x.shape.as_list() == [None] and x.op.type == "IteratorGetNext" and x.op is y.op
    with tf.Session() as sess:
        with pytest.raises(tf.errors.FailedPreconditionError):
            sess.run(x)
        for _ in range(2):  # re-running the initializer restarts
            sess.run(it.initializer)
            got = []
            while True:
                try:
                    got.append(sess.run([x, y]))
                except tf.errors.OutOfRangeError:
                    break
            assert [a.tolist() for a, _ in got] == [[0, 1], [2, 3], [4]]
            assert got[1][1].tolist() == [4.0, 6.0]
        sess.run(it.initializer)
        assert sess.run(x).tolist() == [0, 1]
        sess.run(it.initializer)   # restart in the middle
        assert sess.run(x).tolist() == [0, 1]


def test_one_shot_iterator_and_placeholder_feed():
    got = graph_items(tf.data.Dataset.range(4).map(lambda v: v * v), initializable=False)
    assert [int(v) for v in got] == [0, 1, 4, 9]
    ph = tf.placeholder(tf.float32, [None, 2])
    ds = tf.data.Dataset.from_tensor_slices(ph).map(lambda r: r * 2.0).batch(2)
    assert ds.element_spec == tf.TensorSpec([None, 2], tf.float32)
    it = ds.make_initializable_iterator()
    nxt = it.get_next()
    with tf.Session() as sess:
        sess.run(it.initializer, {ph: np.ones((3, 2), np.float32)})
        assert sess.run(nxt).tolist() == [[2, 2], [2, 2]]
        sess.run(it.initializer, {ph: np.full((1, 2), 5, np.float32)})
        assert sess.run(nxt).tolist() == [[10, 10]]
        with pytest.raises(tf.errors.OutOfRangeError):
            sess.run(nxt)
    with pytest.raises(ValueError, match="initializable"):
        tf.data.make_one_shot_iterator(tf.data.Dataset.from_tensor_slices(ph))
    # a one-shot iterator has no initializer; each new session starts over
    one = tf.data.Dataset.range(3).make_one_shot_iterator()
    with pytest.raises(ValueError):
        one.initializer
    v = one.get_next()
    for _ in range(2):
        with tf.Session() as sess:
            assert sess.run(v) == 0 and sess.run(v) == 1


def test_reinitializable_iterator_from_structure():
    train = tf.data.Dataset.range(5).batch(2)
    test = tf.data.Dataset.range(100, 103).batch(2)
    it = tf.compat.v1.data.Iterator.from_structure(train.output_types, train.output_shapes)
    nxt = it.get_next()
    init_train, init_test = it.make_initializer(train), it.make_initializer(test)
    with tf.Session() as sess:
        sess.run(init_train)
        assert sess.run(nxt).tolist() == [0, 1]
        sess.run(init_test)
        assert sess.run(nxt).tolist() == [100, 101]
    with pytest.raises(TypeError):
        it.make_initializer(tf.data.Dataset.range(3).map(lambda x: tf.cast(x, tf.float32)))


def test_seeded_shuffle_repeats_its_order_on_reinit_in_graph_mode():
    ds = tf.data.Dataset.range(20).shuffle(20, seed=4)
    it = ds.make_initializable_iterator()
    nxt = it.get_next()

    def epoch(sess):
        sess.run(it.initializer)
        out = []
        while True:
            try:
                out.append(int(sess.run(nxt)))
            except tf.errors.OutOfRangeError:
                return out
    with tf.Session() as sess:
        a, b = epoch(sess), epoch(sess)
    assert a == b and sorted(a) == list(range(20))   # TF 1.x: re-initializing starts the seeds over


def test_graph_training_loop_loss_goes_down():
    rng = np.random.RandomState(0)
    x = rng.randn(256, 3).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(256, seed=0).batch(32).repeat(20)
    xb, yb = ds.make_one_shot_iterator().get_next()
    w = tf.Variable(tf.zeros([3, 1]))
    b = tf.Variable(tf.zeros([1]))
    loss = tf.reduce_mean(tf.square(tf.matmul(xb, w) + b - yb))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    losses = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        while True:
            try:
                losses.append(sess.run([train, loss])[1])
            except tf.errors.OutOfRangeError:
                break
    assert len(losses) == 160
    assert losses[-1] < 1e-3 < losses[0]


def test_graph_prefetch_thread_stops_on_reinit_and_session_close():
    before = len(_prefetch_threads())
    it = tf.data.Dataset.range(10 ** 6).prefetch(2).make_initializable_iterator()
    nxt = it.get_next()
    sess = tf.Session()
    sess.run(it.initializer)
    assert sess.run(nxt) == 0
    sess.run(it.initializer)          # the old pipeline's thread stops
    assert sess.run(nxt) == 0
    assert len(_prefetch_threads()) == before + 1
    sess.close()
    deadline = time.time() + 5
    while len(_prefetch_threads()) > before and time.time() < deadline:
        time.sleep(0.01)
    assert len(_prefetch_threads()) == before
