"""Candidate samplers (tf.nn / tf.random *_candidate_sampler) and tf.nn.compute_accidental_hits."""
import numpy as np
import pytest

import nbflow as tf


def _log_uniform_p(c, range_max):
    c = np.asarray(c, dtype=np.float64)
    return np.log((c + 2.0) / (c + 1.0)) / np.log(range_max + 1.0)


def _tries_from_count(count, p):
    """num_tries solving count = 1 - (1 - p) ** num_tries."""
    return np.log1p(-count) / np.log1p(-p)


SAMPLERS = {
    "uniform": (tf.nn.uniform_candidate_sampler, lambda c, r: np.full(np.shape(c), 1.0 / r)),
    "log_uniform": (tf.nn.log_uniform_candidate_sampler, _log_uniform_p),
}


@pytest.mark.parametrize("kind", sorted(SAMPLERS))
def test_sampler_shapes_types_and_names(kind):
    fn = SAMPLERS[kind][0]
    labels = tf.placeholder(tf.int64, [None, 3])
    s, t, c = fn(labels, num_true=3, num_sampled=7, unique=True, range_max=50)
    assert s.op.type == {"uniform": "UniformCandidateSampler", "log_uniform": "LogUniformCandidateSampler"}[kind]
    assert s.op is t.op is c.op and s.op.name == s.op.type
    assert (s.dtype, t.dtype, c.dtype) == (tf.int64, tf.float32, tf.float32)
    assert s.shape.as_list() == [7] and t.shape.as_list() == [None, 3] and c.shape.as_list() == [7]
    assert s.op.attrs["num_true"] == 3 and s.op.attrs["range_max"] == 50 and s.op.attrs["unique"] is True
    assert tf.gradients(tf.reduce_sum(t), labels) == [None]
    with tf.Session() as sess:
        sv, tv, cv = sess.run([s, t, c], {labels: np.zeros((0, 3), np.int64)})  # an empty batch
    assert sv.shape == (7,) and tv.shape == (0, 3) and cv.shape == (7,)
    assert sv.dtype == np.int64 and len(set(sv.tolist())) == 7 and sv.min() >= 0 and sv.max() < 50


def test_sampler_argument_errors():
    labels = tf.constant([[1, 2]], dtype=tf.int64)
    with pytest.raises(TypeError, match="Input 'true_classes' of 'LogUniformCandidateSampler' Op has type int32"):
        tf.nn.log_uniform_candidate_sampler(tf.constant([[1, 2]]), 2, 3, True, 10)
    with pytest.raises(ValueError, match="Attr 'num_sampled' of 'UniformCandidateSampler' Op passed 0 less than "
                                         "minimum 1"):
        tf.nn.uniform_candidate_sampler(labels, 2, 0, True, 10)
    with pytest.raises(ValueError, match="Attr 'range_max' .* less than minimum 1"):
        tf.nn.uniform_candidate_sampler(labels, 2, 1, True, 0)
    with pytest.raises(TypeError, match="Expected int for argument 'num_true'"):
        tf.nn.uniform_candidate_sampler(labels, 2.0, 1, True, 10)
    with pytest.raises(TypeError, match="Expected bool for argument 'unique'"):
        tf.nn.uniform_candidate_sampler(labels, 2, 1, "yes", 10)
    with pytest.raises(ValueError, match="must have num_true columns"):
        tf.nn.uniform_candidate_sampler(labels, 3, 1, True, 10)
    with pytest.raises(ValueError, match="rank 2"):
        tf.nn.uniform_candidate_sampler(tf.constant([1, 2], dtype=tf.int64), 2, 1, True, 10)
    # a plain list is converted to int64, as TF's op wrapper does
    s, _, _ = tf.nn.uniform_candidate_sampler([[1, 2]], 2, 1, True, 10)
    # run-time checks: too small a range for unique sampling, wrong column count of a fed matrix
    small = tf.nn.uniform_candidate_sampler(labels, 2, 11, True, 10)[0]
    fed = tf.placeholder(tf.int64, None)
    wrong = tf.nn.uniform_candidate_sampler(fed, 2, 1, True, 10)[0]
    with tf.Session() as sess:
        assert sess.run(s).shape == (1,)
        with pytest.raises(tf.errors.InvalidArgumentError, match="Sampler's range is too small"):
            sess.run(small)
        with pytest.raises(tf.errors.InvalidArgumentError, match="num_true columns"):
            sess.run(wrong, {fed: [[1, 2, 3]]})
        with pytest.raises(tf.errors.InvalidArgumentError, match="rank 2"):
            sess.run(wrong, {fed: [1, 2]})


@pytest.mark.parametrize("kind", sorted(SAMPLERS))
def test_sampler_with_replacement_distribution_and_expected_counts(kind):
    fn, prob = SAMPLERS[kind]
    r, n = 12, 40000
    labels = tf.constant([[0, 5], [11, 3]], dtype=tf.int64)
    s, t, c = fn(labels, 2, n, False, r, seed=3)
    with tf.Session() as sess:
        sv, tv, cv = sess.run([s, t, c])
    # expected count = P(c) * num_sampled exactly (float32)
    np.testing.assert_allclose(tv, prob([[0, 5], [11, 3]], r) * n, rtol=1e-6)
    np.testing.assert_allclose(cv, prob(sv, r) * n, rtol=1e-6)
    freq = np.bincount(sv, minlength=r)
    assert freq.shape == (r,)
    p = prob(np.arange(r), r)
    assert abs(p.sum() - 1) < 1e-12
    # each class's count is binomial(n, p): within 5 standard deviations
    assert np.all(np.abs(freq - n * p) < 5 * np.sqrt(n * p * (1 - p))), (freq, n * p)


@pytest.mark.parametrize("kind", sorted(SAMPLERS))
def test_unique_sampler_expected_counts_follow_num_tries(kind):
    fn, prob = SAMPLERS[kind]
    r, k = 30, 12
    labels = tf.constant([[0], [7], [29]], dtype=tf.int64)
    s, t, c = fn(labels, 1, k, True, r, seed=11)
    watched = [0, 7, 29]
    mean_count = np.zeros(3)
    inclusion = np.zeros(3)
    runs = 400
    with tf.Session() as sess:
        for _ in range(runs):
            sv, tv, cv = sess.run([s, t, c])
            assert len(set(sv.tolist())) == k
            mean_count += tv[:, 0] / runs
            inclusion += np.isin(watched, sv) / runs
            ps = prob(sv, r)
            if np.allclose(cv, ps * k, rtol=1e-6):
                continue  # the first k draws were distinct: the p * k shortcut, as TF
            # one num_tries explains every expected count (true and sampled), and it is >= num_sampled
            tries = _tries_from_count(cv.astype(np.float64), ps)
            assert np.allclose(tries, tries[0], rtol=1e-3) and tries[0] >= k - 1e-3
            np.testing.assert_allclose(tv[:, 0], -np.expm1(tries[0] * np.log1p(-prob(watched, r))), rtol=1e-4)
    # TF's procedure, one draw at a time with rejection, simulated in Python
    rs = np.random.RandomState(0)
    p_all = prob(np.arange(r), r)
    sim_count, sim_inclusion = np.zeros(3), np.zeros(3)
    sims = 4000
    for _ in range(sims):
        picked, tries = set(), 0
        while len(picked) < k:
            picked.add(int(rs.choice(r, p=p_all / p_all.sum())))
            tries += 1
        pw = prob(watched, r)
        sim_count += (pw * k if tries == k else -np.expm1(tries * np.log1p(-pw))) / sims
        sim_inclusion += np.isin(watched, list(picked)) / sims
    # inclusion frequencies agree (binomial noise), and so do the mean expected counts
    assert np.all(np.abs(inclusion - sim_inclusion) < 5 * np.sqrt(sim_inclusion * (1 - sim_inclusion) / runs) + 1e-9)
    np.testing.assert_allclose(mean_count, sim_count, rtol=0.05)


def test_unique_sampler_full_range_is_a_permutation():
    s, _, c = tf.nn.uniform_candidate_sampler(tf.constant([[1]], tf.int64), 1, 10, True, 10, seed=1)
    with tf.Session() as sess:
        sv, cv = sess.run([s, c])
    assert sorted(sv.tolist()) == list(range(10))
    assert np.all(cv > 0) and np.all(cv <= 1)


def test_sampler_seeding_follows_tf_rules():
    def build(graph_seed, op_seed):
        g = tf.Graph()
        with g.as_default():
            if graph_seed is not None:
                tf.set_random_seed(graph_seed)
            s = tf.random.log_uniform_candidate_sampler([[1]], 1, 20, False, 1000, seed=op_seed)[0]
            with tf.Session() as sess:
                return sess.run(s), sess.run(s)

    a1, a2 = build(5, None)
    b1, b2 = build(5, None)
    np.testing.assert_array_equal(a1, b1)  # same graph seed, same graph: the same stream
    np.testing.assert_array_equal(a2, b2)
    assert not np.array_equal(a1, a2)  # every run draws anew
    c1, _ = build(None, 7)
    d1, _ = build(None, 7)
    np.testing.assert_array_equal(c1, d1)
    e1, _ = build(None, None)
    f1, _ = build(None, None)
    assert not np.array_equal(e1, f1)  # no seed at all: fresh entropy


def test_public_names():
    assert tf.random.uniform_candidate_sampler is tf.nn.uniform_candidate_sampler
    assert tf.random.log_uniform_candidate_sampler is tf.nn.log_uniform_candidate_sampler
    assert tf.random.fixed_unigram_candidate_sampler is tf.nn.fixed_unigram_candidate_sampler
    assert tf.random.learned_unigram_candidate_sampler is tf.nn.learned_unigram_candidate_sampler
    assert tf.random.all_candidate_sampler is tf.nn.all_candidate_sampler
    assert callable(tf.nn.compute_accidental_hits)


# -- fixed / learned unigram, all -----------------------------------------------------------

def test_fixed_unigram_sampler_distribution_distortion_and_reserved_ids(tmp_path):
    unigrams = [5.0, 1.0, 0.0, 10.0, 4.0]
    d = 0.75
    labels = tf.constant([[1], [3]], tf.int64)
    n = 30000
    s, t, c = tf.nn.fixed_unigram_candidate_sampler(labels, 1, n, False, 7, distortion=d, num_reserved_ids=2,
                                                    unigrams=unigrams, seed=2)
    vocab = tmp_path / "vocab.csv"
    vocab.write_text("".join("w%d,x,%g\n" % (i, u) for i, u in enumerate(unigrams)))
    s2 = tf.nn.fixed_unigram_candidate_sampler(labels, 1, n, False, 7, vocab_file=str(vocab), distortion=d,
                                               num_reserved_ids=2, seed=2)[0]
    assert s.op.type == "FixedUnigramCandidateSampler"
    w = np.array([0, 0] + [u ** d for u in unigrams])
    p = w / w.sum()
    with tf.Session() as sess:
        sv, tv, cv, sv2 = sess.run([s, t, c, s2])
    np.testing.assert_allclose(tv[:, 0], p[[1, 3]] * n, rtol=1e-5)
    np.testing.assert_allclose(cv, p[sv] * n, rtol=1e-5)
    freq = np.bincount(sv, minlength=7)
    assert freq[0] == freq[1] == freq[4] == 0  # reserved ids and zero counts are never drawn
    assert np.all(np.abs(freq - n * p) < 5 * np.sqrt(n * p * (1 - p)) + 1e-9)
    np.testing.assert_array_equal(np.bincount(sv2, minlength=7) > 0, freq > 0)


def test_fixed_unigram_sampler_shards_and_errors():
    unigrams = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    labels = tf.constant([[0]], tf.int64)
    # shard 1 of 2 keeps ids 1, 3, 5: three weights, sampled as 0..2
    s, t, c = tf.nn.fixed_unigram_candidate_sampler(labels, 1, 3, True, 3, num_shards=2, shard=1,
                                                    unigrams=unigrams, seed=1)
    bad = tf.nn.fixed_unigram_candidate_sampler(labels, 1, 2, True, 6, num_shards=2, shard=1, unigrams=unigrams)[0]
    with tf.Session() as sess:
        sv, tv = sess.run([s, t])
        assert sorted(sv.tolist()) == [0, 1, 2]
        assert 0 < tv[0, 0] <= 1
        with pytest.raises(tf.errors.InvalidArgumentError, match="range is 6 must be equal to weights size  3"):
            sess.run(bad)
    with pytest.raises(ValueError, match="exactly one of vocab_file and unigrams"):
        tf.nn.fixed_unigram_candidate_sampler(labels, 1, 2, True, 6)
    with pytest.raises(ValueError, match="shard"):
        tf.nn.fixed_unigram_candidate_sampler(labels, 1, 2, True, 6, num_shards=2, shard=2, unigrams=unigrams)


def test_learned_unigram_sampler_learns_from_true_classes():
    r = 6
    labels = tf.placeholder(tf.int64, [None, 2])
    s, t, c = tf.nn.learned_unigram_candidate_sampler(labels, 2, 4, False, r, seed=4)
    assert s.op.type == "LearnedUnigramCandidateSampler"
    with tf.Session() as sess:
        _, t1 = sess.run([s, t], {labels: [[2, 2], [5, 2]]})
        np.testing.assert_allclose(t1, np.full((2, 2), 4.0 / r), rtol=1e-6)  # every class starts at weight 1
        sv, t2, c2 = sess.run([s, t, c], {labels: [[0, 2], [5, 5]]})
        w = np.ones(r)
        w[2] += 3
        w[5] += 1
        np.testing.assert_allclose(t2, w[[[0, 2], [5, 5]]] / w.sum() * 4, rtol=1e-6)
        np.testing.assert_allclose(c2, w[sv] / w.sum() * 4, rtol=1e-6)
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[0, range_max=6\)"):
            sess.run(s, {labels: [[0, 6]]})
    with tf.Session() as sess:  # a new session starts from uniform weights again
        np.testing.assert_allclose(sess.run(t, {labels: [[1, 1]]}), np.full((1, 2), 4.0 / r), rtol=1e-6)


def test_all_candidate_sampler():
    s, t, c = tf.nn.all_candidate_sampler(tf.constant([[3, 1], [0, 0]], tf.int64), 2, 5, True)
    assert s.op.type == "AllCandidateSampler" and s.shape.as_list() == [5]
    with tf.Session() as sess:
        sv, tv, cv = sess.run([s, t, c])
    np.testing.assert_array_equal(sv, np.arange(5))
    np.testing.assert_array_equal(tv, np.ones((2, 2), np.float32))
    np.testing.assert_array_equal(cv, np.ones(5, np.float32))


# -- compute_accidental_hits -------------------------------------------------------------------

def _np_accidental_hits(true_classes, sampled):
    last = {int(v): j for j, v in enumerate(sampled)}  # a value sampled twice maps to its last position
    idx, ids = [], []
    for i, row in enumerate(true_classes):
        for v in row:
            if int(v) in last:
                idx.append(i)
                ids.append(last[int(v)])
    return np.array(idx, np.int32), np.array(ids, np.int64)


@pytest.mark.parametrize("true_classes, sampled", [
    ([[1, 4], [2, 9], [4, 4]], [4, 7, 2, 9, 0]),
    ([[3, 3]], [3, 1, 3]),           # repeats on both sides
    ([[5, 6], [7, 8]], [0, 1]),      # no hit
    (np.zeros((0, 2), np.int64), [1, 2]),  # empty batch
    ([[1, 2]], np.zeros(0, np.int64)),     # nothing sampled
])
def test_compute_accidental_hits_matches_numpy(true_classes, sampled):
    tc = tf.placeholder(tf.int64, [None, 2])
    sc = tf.placeholder(tf.int64, [None])
    idx, ids, w = tf.nn.compute_accidental_hits(tc, sc, num_true=2)
    assert idx.op.type == "ComputeAccidentalHits"
    assert (idx.dtype, ids.dtype, w.dtype) == (tf.int32, tf.int64, tf.float32)
    assert idx.shape.as_list() == [None]
    with tf.Session() as sess:
        got = sess.run([idx, ids, w], {tc: np.asarray(true_classes, np.int64).reshape(-1, 2), sc: sampled})
    ref_idx, ref_ids = _np_accidental_hits(np.asarray(true_classes).reshape(-1, 2), sampled)
    np.testing.assert_array_equal(got[0], ref_idx)
    np.testing.assert_array_equal(got[1], ref_ids)
    np.testing.assert_array_equal(got[2], np.full(len(ref_idx), -np.finfo(np.float32).max, np.float32))
    assert got[0].dtype == np.int32 and got[1].dtype == np.int64


def test_compute_accidental_hits_errors():
    with pytest.raises(ValueError, match="num_true columns"):
        tf.nn.compute_accidental_hits(tf.constant([[1, 2]], tf.int64), tf.constant([1], tf.int64), num_true=1)
    with pytest.raises(TypeError, match="sampled_candidates"):
        tf.nn.compute_accidental_hits(tf.constant([[1]], tf.int64), tf.constant([1]), num_true=1)
    with pytest.raises(ValueError, match="rank 1"):
        tf.nn.compute_accidental_hits(tf.constant([[1]], tf.int64), tf.constant([[1]], tf.int64), num_true=1)
    sc = tf.placeholder(tf.int64)
    h = tf.nn.compute_accidental_hits(tf.constant([[1]], tf.int64), sc, num_true=1)[0]
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="rank 1"):
            sess.run(h, {sc: [[1]]})
