"""tf.nn.nce_loss and tf.nn.sampled_softmax_loss against numpy, gradients, training."""
import numpy as np
import pytest

import nbflow as tf

FLT_MAX = np.finfo(np.float32).max


def _np_logits(w, b, labels, x, sampled, true_count, sampled_count, remove_hits):
    num_true = labels.shape[1]
    true_logits = np.einsum("bd,btd->bt", x, w[labels]) + b[labels]
    sampled_logits = x @ w[sampled].T + b[sampled]
    if remove_hits:
        last = {int(v): j for j, v in enumerate(sampled)}
        for i in range(labels.shape[0]):
            for v in labels[i]:
                if int(v) in last:
                    sampled_logits[i, last[int(v)]] = sampled_logits[i, last[int(v)]] - FLT_MAX
    true_logits = true_logits - np.log(true_count.astype(np.float64))
    sampled_logits = sampled_logits - np.log(sampled_count.astype(np.float64))
    logits = np.concatenate([true_logits, sampled_logits], 1)
    z = np.concatenate([np.full(true_logits.shape, 1.0 / num_true), np.zeros(sampled_logits.shape)], 1)
    return logits, z


def np_nce(*args):
    x, z = _np_logits(*args)
    return (np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))).sum(1)


def np_sampled_softmax(*args):
    x, z = _np_logits(*args)
    m = x.max(1, keepdims=True)
    logp = x - m - np.log(np.exp(x - m).sum(1, keepdims=True))
    return -(z * logp).sum(1)


def _problem(rng, num_true, batch=4, classes=12, dim=5, sampled=(3, 0, 7, 11, 5)):
    w = rng.randn(classes, dim)
    b = rng.randn(classes)
    x = rng.randn(batch, dim)
    labels = np.stack([rng.choice(classes, num_true, replace=False) for _ in range(batch)]).astype(np.int64)
    labels[0, 0] = 3  # at least one accidental hit
    s = np.array(sampled, np.int64)
    tc = rng.uniform(0.1, 1.0, size=labels.shape).astype(np.float32)
    sc = rng.uniform(0.1, 1.0, size=s.shape).astype(np.float32)
    return w, b, labels, x, s, tc, sc


LOSSES = {"nce": (tf.nn.nce_loss, np_nce, False), "sampled_softmax": (tf.nn.sampled_softmax_loss,
                                                                       np_sampled_softmax, True)}


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("num_true", [1, 2])
@pytest.mark.parametrize("remove_hits", [False, True])
def test_loss_matches_numpy_given_sampled_values(loss, dtype, num_true, remove_hits, rng):
    fn, ref, _ = LOSSES[loss]
    w, b, labels, x, s, tc, sc = _problem(rng, num_true)
    npd = dtype.as_numpy_dtype
    W = tf.placeholder(dtype, [12, 5])
    B = tf.placeholder(dtype, [12])
    X = tf.placeholder(dtype, [None, 5])
    L = tf.placeholder(tf.int64, [None, num_true])
    S, SC = tf.placeholder(tf.int64, [None]), tf.placeholder(tf.float32, [None])
    TC = tf.placeholder(tf.float32, [None, num_true])
    out = fn(W, B, L, X, num_sampled=5, num_classes=12, num_true=num_true, sampled_values=(S, TC, SC),
             remove_accidental_hits=remove_hits)
    assert out.dtype is dtype and out.shape.as_list() == [None]
    with tf.Session() as sess:
        got = sess.run(out, {W: w, B: b, X: x, L: labels, S: s, TC: tc, SC: sc})
    expected = ref(w.astype(npd).astype(np.float64), b.astype(npd).astype(np.float64), labels,
                   x.astype(npd).astype(np.float64), s, tc, sc, remove_hits)
    assert got.dtype == npd and got.shape == (4,)
    np.testing.assert_allclose(got, expected, rtol=1e-5 if dtype is tf.float32 else 1e-10)


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_default_remove_accidental_hits(loss, rng):
    """nce_loss keeps accidental hits by default, sampled_softmax_loss removes them (as TF)."""
    fn, ref, default = LOSSES[loss]
    w, b, labels, x, s, tc, sc = _problem(rng, 1)
    out = fn(w, b, labels, x, 5, 12, sampled_values=(s, tc, sc))
    with tf.Session() as sess:
        got = sess.run(out)
    np.testing.assert_allclose(got, ref(w, b, labels, x, s, tc, sc, default), rtol=1e-10)
    assert not np.allclose(got, ref(w, b, labels, x, s, tc, sc, not default), rtol=1e-6)


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("strategy", ["mod", "div"])
def test_partitioned_weights(loss, strategy, rng):
    fn, ref, _ = LOSSES[loss]
    w, b, labels, x, s, tc, sc = _problem(rng, 2)
    if strategy == "mod":
        parts = [w[i::3] for i in range(3)]
    else:
        parts = [w[0:4], w[4:8], w[8:12]]
    out = fn([tf.constant(p) for p in parts], b, labels, x, 5, 12, num_true=2, sampled_values=(s, tc, sc),
             partition_strategy=strategy)
    with tf.Session() as sess:
        got = sess.run(out)
    np.testing.assert_allclose(got, ref(w, b, labels, x, s, tc, sc, fn is tf.nn.sampled_softmax_loss), rtol=1e-10)


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("num_true", [1, 2])
def test_gradients_match_finite_differences(loss, num_true, rng):
    fn = LOSSES[loss][0]
    w, b, labels, x, s, tc, sc = _problem(rng, num_true, batch=3, classes=8, dim=3, sampled=(1, 6, 2, 3))
    labels[0, 0] = 1
    W = tf.placeholder(tf.float64, [8, 3])
    B = tf.placeholder(tf.float64, [8])
    X = tf.placeholder(tf.float64, [3, 3])
    out = fn(W, B, tf.constant(labels), X, 4, 8, num_true=num_true, sampled_values=(s, tc, sc),
             remove_accidental_hits=True)
    with tf.Session():
        for var, shape, value in ((W, [8, 3], w), (B, [8], b), (X, [3, 3], x)):
            feed = {W: w, B: b, X: x}
            del feed[var]
            err = tf.test.compute_gradient_error(var, shape, out, [3], x_init_value=value.copy(),
                                                 extra_feed_dict=feed)
            assert err < 1e-6, (var, err)


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_gradients_are_zero_for_unused_rows_and_size1_edges(loss, rng):
    fn = LOSSES[loss][0]
    W = tf.Variable(rng.randn(6, 2))
    B = tf.Variable(np.zeros(6))
    X = tf.placeholder(tf.float64, [None, 2])
    out = fn(W, B, [[4]], X, 1, 6, sampled_values=([2], [0.5], [0.25]))  # batch 1, one sampled class
    gw, gb = tf.gradients(tf.reduce_sum(out), [W, B])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        vw, vb, lv = sess.run([gw, gb, out], {X: rng.randn(1, 2)})
    assert lv.shape == (1,)
    used = np.zeros(6, bool)
    used[[2, 4]] = True
    assert np.all(vw[~used] == 0) and np.all(vb[~used] == 0) and np.all(vb[used] != 0)


def test_default_sampler_is_seeded_log_uniform(rng):
    tf.set_random_seed(42)
    w, b = rng.randn(50, 4), rng.randn(50)
    x = tf.placeholder(tf.float32, [None, 4])
    labels = tf.placeholder(tf.int32, [None, 1])  # int32 labels are cast to int64
    nce = tf.nn.nce_loss(w.astype(np.float32), b.astype(np.float32), labels, x, 10, 50)
    ssl = tf.nn.sampled_softmax_loss(w.astype(np.float32), b.astype(np.float32), labels, x, 10, 50, seed=3)
    types = {op.type for op in tf.get_default_graph().get_operations()}
    assert "LogUniformCandidateSampler" in types and "ComputeAccidentalHits" in types
    samplers = [op for op in tf.get_default_graph().get_operations() if op.type == "LogUniformCandidateSampler"]
    assert len(samplers) == 2 and all(op.attrs["unique"] and op.attrs["range_max"] == 50 for op in samplers)
    assert samplers[1].attrs["seed2"] == 3
    feed = {x: rng.randn(6, 4), labels: rng.randint(0, 50, size=(6, 1))}
    with tf.Session() as sess:
        a = sess.run([nce, ssl], feed)
        b2 = sess.run([nce, ssl], feed)
    assert a[0].shape == (6,) and np.all(a[0] > 0) and np.all(a[1] > 0)
    assert not np.allclose(a[0], b2[0])  # a new sample every run
    with tf.Session() as sess:  # a new session with the same seeds repeats the streams
        np.testing.assert_allclose(sess.run([nce, ssl], feed)[0], a[0])


def test_empty_batch(rng):
    w, b = rng.randn(10, 3), rng.randn(10)
    x = tf.placeholder(tf.float64, [None, 3])
    labels = tf.placeholder(tf.int64, [None, 1])
    out = tf.nn.sampled_softmax_loss(w, b, labels, x, 4, 10, seed=1)
    with tf.Session() as sess:
        got = sess.run(out, {x: np.zeros((0, 3)), labels: np.zeros((0, 1), np.int64)})
    assert got.shape == (0,)


def test_argument_errors(rng):
    w, b = rng.randn(10, 3), rng.randn(10)
    x = rng.randn(2, 3)
    with pytest.raises(TypeError, match="labels must be an integer"):
        tf.nn.nce_loss(w, b, np.zeros((2, 1)), x, 3, 10)
    with pytest.raises(ValueError, match="num_true"):
        tf.nn.nce_loss(w, b, np.zeros((2, 2), np.int64), x, 3, 10, num_true=1)
    with pytest.raises(TypeError, match="num_sampled must be a Python int"):
        tf.nn.nce_loss(w, b, np.zeros((2, 1), np.int64), x, 3.0, 10)
    with pytest.raises(ValueError, match="sampled_values"):
        tf.nn.nce_loss(w, b, np.zeros((2, 1), np.int64), x, 3, 10, sampled_values=([1, 2, 3], [0.5]))
    with pytest.raises(ValueError, match="Unrecognized partition strategy"):
        tf.nn.nce_loss(w, b, np.zeros((2, 1), np.int64), x, 3, 10, partition_strategy="block")


def test_word2vec_style_training_reduces_nce_loss():
    """Skip-gram pairs from a tiny corpus, as the TF word2vec_basic tutorial."""
    tf.set_random_seed(0)
    corpus = ("the quick brown fox jumps over the lazy dog the dog sleeps the fox runs "
              "a quick dog jumps a lazy fox sleeps").split()
    words = sorted(set(corpus), key=lambda w: (-corpus.count(w), w))  # by decreasing frequency
    ids = np.array([words.index(w) for w in corpus])
    pairs = [(ids[i], ids[j]) for i in range(len(ids)) for j in (i - 1, i + 1) if 0 <= j < len(ids)]
    inputs_np = np.array([p[0] for p in pairs], np.int32)
    labels_np = np.array([[p[1]] for p in pairs], np.int64)
    vocab, dim = len(words), 8
    train_inputs = tf.placeholder(tf.int32, [None])
    train_labels = tf.placeholder(tf.int64, [None, 1])
    embeddings = tf.Variable(tf.random_uniform([vocab, dim], -1.0, 1.0))
    embed = tf.nn.embedding_lookup(embeddings, train_inputs)
    nce_weights = tf.Variable(tf.truncated_normal([vocab, dim], stddev=1.0 / np.sqrt(dim)))
    nce_biases = tf.Variable(tf.zeros([vocab]))
    loss = tf.reduce_mean(tf.nn.nce_loss(weights=nce_weights, biases=nce_biases, labels=train_labels,
                                         inputs=embed, num_sampled=4, num_classes=vocab))
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    feed = {train_inputs: inputs_np, train_labels: labels_np}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = np.mean([sess.run(loss, feed) for _ in range(20)])
        for _ in range(300):
            sess.run(train, feed)
        last = np.mean([sess.run(loss, feed) for _ in range(20)])
    assert last < 0.6 * first, (first, last)
