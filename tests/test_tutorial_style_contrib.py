"""Classic TF1 tutorial programs, unchanged in style: tf.contrib.layers CNN on MNIST,
a DCGAN with conv2d_transpose, word2vec with nce_loss, an MLP with contrib
fully_connected + l2_regularizer + batch_norm. Each trains for a few seconds and
checks that its loss falls."""
import collections
import math
import random

import numpy as np

import nbflow as tf
from nbflow.datasets import mnist as input_data


def _mean(xs):
    return float(np.mean(xs))


def test_contrib_layers_cnn_on_mnist():
    """The "Deep MNIST" CNN written with tf.contrib.layers (slim-style)."""
    tf.set_random_seed(1)
    data = input_data.read_data_sets(one_hot=True, seed=1)
    x = tf.placeholder(tf.float32, [None, 784])
    y_ = tf.placeholder(tf.float32, [None, 10])
    keep_prob = tf.placeholder(tf.float32)
    net = tf.reshape(x, [-1, 28, 28, 1])
    net = tf.contrib.layers.conv2d(net, 8, [5, 5], scope="conv1")
    net = tf.contrib.layers.max_pool2d(net, [2, 2], scope="pool1")
    net = tf.contrib.layers.conv2d(net, 16, [5, 5], scope="conv2")
    net = tf.contrib.layers.max_pool2d(net, [2, 2], scope="pool2")
    net = tf.contrib.layers.flatten(net)
    net = tf.contrib.layers.fully_connected(net, 64, scope="fc3")
    net = tf.contrib.layers.dropout(net, keep_prob=keep_prob)
    logits = tf.contrib.layers.fully_connected(net, 10, activation_fn=None, scope="logits")
    cross_entropy = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y_, logits=logits))
    train_step = tf.train.AdamOptimizer(2e-3).minimize(cross_entropy)
    correct = tf.equal(tf.argmax(logits, 1), tf.argmax(y_, 1))
    accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
    assert [v.op.name for v in tf.model_variables()] == [
        "conv1/weights", "conv1/biases", "conv2/weights", "conv2/biases", "fc3/weights", "fc3/biases",
        "logits/weights", "logits/biases"]
    losses = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(60):
            bx, by = data.train.next_batch(50)
            _, loss = sess.run([train_step, cross_entropy], {x: bx, y_: by, keep_prob: 0.5})
            losses.append(loss)
        acc = sess.run(accuracy, {x: data.test.images[:500], y_: data.test.labels[:500], keep_prob: 1.0})
    assert np.all(np.isfinite(losses))
    assert _mean(losses[-10:]) < 0.5 * _mean(losses[:10]), losses
    assert acc > 0.6  # chance is 0.1


def test_dcgan_generator_with_conv2d_transpose():
    """A DCGAN on MNIST digits: a generator of fully_connected + conv2d_transpose
    (batch-normalized), a strided-convolution discriminator."""
    tf.set_random_seed(2)
    rs = np.random.RandomState(2)
    data = input_data.read_data_sets(seed=2)
    batch, z_dim = 32, 16

    def generator(z, training):
        with tf.variable_scope("generator"):
            h = tf.contrib.layers.fully_connected(z, 7 * 7 * 16, normalizer_fn=tf.contrib.layers.batch_norm,
                                                  normalizer_params={"is_training": training})
            h = tf.reshape(h, [-1, 7, 7, 16])
            h = tf.contrib.layers.conv2d_transpose(h, 8, [5, 5], stride=2,
                                                   normalizer_fn=tf.contrib.layers.batch_norm,
                                                   normalizer_params={"is_training": training})
            return tf.layers.conv2d_transpose(h, 1, 5, strides=2, padding="same", activation=tf.nn.tanh)

    def discriminator(images, reuse=False):
        with tf.variable_scope("discriminator", reuse=reuse):
            h = tf.contrib.layers.conv2d(images, 8, [5, 5], stride=2, activation_fn=tf.nn.leaky_relu)
            h = tf.contrib.layers.conv2d(h, 16, [5, 5], stride=2, activation_fn=tf.nn.leaky_relu)
            return tf.contrib.layers.fully_connected(tf.contrib.layers.flatten(h), 1, activation_fn=None)

    z = tf.placeholder(tf.float32, [None, z_dim])
    real = tf.placeholder(tf.float32, [None, 28, 28, 1])
    training = tf.placeholder_with_default(True, [])
    fake = generator(z, training)
    assert fake.shape.as_list() == [None, 28, 28, 1]
    d_real = discriminator(real)
    d_fake = discriminator(fake, reuse=True)

    def xent(logits, label):
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=label * tf.ones_like(logits),
                                                                      logits=logits))

    d_loss = xent(d_real, 1.0) + xent(d_fake, 0.0)
    g_loss = xent(d_fake, 1.0)
    g_vars = tf.trainable_variables("generator")
    d_vars = tf.trainable_variables("discriminator")
    assert "generator/Conv2d_transpose/weights" in [v.op.name for v in g_vars]
    assert "generator/conv2d_transpose/kernel" in [v.op.name for v in g_vars]
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS, "generator")):
        g_train = tf.train.AdamOptimizer(2e-3, beta1=0.5).minimize(g_loss, var_list=g_vars)
    d_train = tf.train.AdamOptimizer(2e-3, beta1=0.5).minimize(d_loss, var_list=d_vars)
    # the generator alone can learn to draw: fit 16 fixed codes to 16 digits
    fixed_z = rs.uniform(-1, 1, (16, z_dim)).astype(np.float32)
    target = tf.constant(data.train.images[:16].reshape(-1, 28, 28, 1) * 2 - 1)
    fit_loss = tf.reduce_mean(tf.square(fake - target))
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS, "generator")):
        fit_train = tf.train.AdamOptimizer(5e-3).minimize(fit_loss, var_list=g_vars)
    d_losses, g_losses, fit_losses = [], [], []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(25):
            images = data.train.next_batch(batch)[0].reshape(-1, 28, 28, 1) * 2 - 1
            codes = rs.uniform(-1, 1, (batch, z_dim)).astype(np.float32)
            _, dl = sess.run([d_train, d_loss], {z: codes, real: images})
            _, gl = sess.run([g_train, g_loss], {z: codes})
            d_losses.append(dl)
            g_losses.append(gl)
        for _ in range(40):
            _, fl = sess.run([fit_train, fit_loss], {z: fixed_z})
            fit_losses.append(fl)
        samples = sess.run(fake, {z: fixed_z, training: False})
    assert np.all(np.isfinite(d_losses + g_losses + fit_losses))
    assert _mean(d_losses[-5:]) < _mean(d_losses[:3]), d_losses  # the discriminator learns
    assert fit_losses[-1] < 0.5 * fit_losses[0], fit_losses       # and the generator can
    assert samples.shape == (16, 28, 28, 1) and np.all(np.abs(samples) <= 1)


def test_word2vec_basic_with_nce_loss():
    """word2vec_basic.py: skip-gram batches, embeddings, NCE loss, cosine similarity."""
    tf.set_random_seed(3)
    random.seed(3)
    text = ("anarchism originated as a term of abuse first used against early working class radicals "
            "including the diggers of the english revolution and the sans culottes of the french revolution "
            "whilst the term is still used in a pejorative way to describe any act that used violent means "
            "to destroy the organization of society it has also been taken up as a positive label by self "
            "defined anarchists the word anarchism is derived from the greek without archons ruler chief king "
            "anarchism as a political philosophy is the belief that rulers are unnecessary and should be "
            "abolished although there are differing interpretations of what this means").split()
    vocabulary_size = 40
    count = [["UNK", -1]]
    count.extend(collections.Counter(text).most_common(vocabulary_size - 1))
    dictionary = {word: i for i, (word, _) in enumerate(count)}
    data = [dictionary.get(word, 0) for word in text]
    reverse_dictionary = dict(zip(dictionary.values(), dictionary.keys()))
    state = {"data_index": 0}

    def generate_batch(batch_size, num_skips, skip_window):
        assert batch_size % num_skips == 0 and num_skips <= 2 * skip_window
        batch = np.ndarray(shape=(batch_size,), dtype=np.int32)
        labels = np.ndarray(shape=(batch_size, 1), dtype=np.int32)
        span = 2 * skip_window + 1
        buffer = collections.deque(maxlen=span)
        if state["data_index"] + span > len(data):
            state["data_index"] = 0
        buffer.extend(data[state["data_index"]:state["data_index"] + span])
        state["data_index"] += span
        for i in range(batch_size // num_skips):
            context_words = [w for w in range(span) if w != skip_window]
            for j, context_word in enumerate(random.sample(context_words, num_skips)):
                batch[i * num_skips + j] = buffer[skip_window]
                labels[i * num_skips + j, 0] = buffer[context_word]
            if state["data_index"] == len(data):
                buffer.extend(data[:span])
                state["data_index"] = span
            else:
                buffer.append(data[state["data_index"]])
                state["data_index"] += 1
        state["data_index"] = (state["data_index"] + len(data) - span) % len(data)
        return batch, labels

    batch_size, embedding_size, num_sampled = 32, 16, 8
    valid_examples = np.array([1, 2, 3, 4])
    train_inputs = tf.placeholder(tf.int32, shape=[batch_size])
    train_labels = tf.placeholder(tf.int32, shape=[batch_size, 1])
    valid_dataset = tf.constant(valid_examples, dtype=tf.int32)
    embeddings = tf.Variable(tf.random_uniform([vocabulary_size, embedding_size], -1.0, 1.0))
    embed = tf.nn.embedding_lookup(embeddings, train_inputs)
    nce_weights = tf.Variable(tf.truncated_normal([vocabulary_size, embedding_size],
                                                  stddev=1.0 / math.sqrt(embedding_size)))
    nce_biases = tf.Variable(tf.zeros([vocabulary_size]))
    loss = tf.reduce_mean(tf.nn.nce_loss(weights=nce_weights, biases=nce_biases, labels=train_labels,
                                         inputs=embed, num_sampled=num_sampled, num_classes=vocabulary_size))
    optimizer = tf.train.GradientDescentOptimizer(1.0).minimize(loss)
    norm = tf.sqrt(tf.reduce_sum(tf.square(embeddings), 1, keepdims=True))
    normalized_embeddings = embeddings / norm
    valid_embeddings = tf.nn.embedding_lookup(normalized_embeddings, valid_dataset)
    similarity = tf.matmul(valid_embeddings, normalized_embeddings, transpose_b=True)
    losses = []
    with tf.Session() as session:
        tf.global_variables_initializer().run()
        for _ in range(400):
            batch_inputs, batch_labels = generate_batch(batch_size, num_skips=2, skip_window=1)
            _, loss_val = session.run([optimizer, loss], {train_inputs: batch_inputs, train_labels: batch_labels})
            losses.append(loss_val)
        sim = similarity.eval()
    nearest = [reverse_dictionary[k] for k in (-sim[0, :]).argsort()[1:4]]
    assert len(nearest) == 3 and sim.shape == (4, vocabulary_size)
    np.testing.assert_allclose(sim[np.arange(4), valid_examples], 1.0, rtol=1e-5)  # each word is nearest itself
    assert np.all(np.isfinite(losses))
    assert _mean(losses[-50:]) < 0.6 * _mean(losses[:50]), (_mean(losses[:50]), _mean(losses[-50:]))


def test_mlp_with_contrib_fully_connected_l2_and_batch_norm():
    """An MNIST MLP: contrib fully_connected layers with batch_norm as normalizer and
    an l2 weight regularizer; UPDATE_OPS run with the train op; evaluated in inference mode."""
    tf.set_random_seed(4)
    data = input_data.read_data_sets(seed=4)
    x = tf.placeholder(tf.float32, [None, 784])
    labels = tf.placeholder(tf.int64, [None])
    is_training = tf.placeholder(tf.bool, [])
    regularizer = tf.contrib.layers.l2_regularizer(scale=1e-4)
    bn_params = {"is_training": is_training, "decay": 0.9, "scale": True}
    net = x
    for i, units in enumerate([128, 64]):
        net = tf.contrib.layers.fully_connected(net, units, normalizer_fn=tf.contrib.layers.batch_norm,
                                                normalizer_params=bn_params, weights_regularizer=regularizer,
                                                scope="hidden%d" % (i + 1))
    logits = tf.contrib.layers.fully_connected(net, 10, activation_fn=None, weights_regularizer=regularizer,
                                               scope="logits")
    data_loss = tf.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    reg_losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    assert len(reg_losses) == 3
    total_loss = data_loss + tf.add_n(reg_losses)
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert len(update_ops) == 4
    with tf.control_dependencies(update_ops):
        train_op = tf.train.MomentumOptimizer(0.05, 0.9).minimize(total_loss)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), labels), tf.float32))
    moving_mean = [v for v in tf.global_variables() if v.op.name == "hidden1/BatchNorm/moving_mean"][0]
    losses = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(100):
            bx, by = data.train.next_batch(64)
            _, loss = sess.run([train_op, total_loss], {x: bx, labels: by, is_training: True})
            losses.append(loss)
        acc = sess.run(accuracy, {x: data.test.images[:500], labels: data.test.labels[:500], is_training: False})
        mm = sess.run(moving_mean)
    assert np.all(np.isfinite(losses))
    assert _mean(losses[-10:]) < 0.4 * _mean(losses[:10]), losses
    assert np.abs(mm).max() > 0  # the moving averages were updated
    assert acc > 0.7  # with the moving statistics (chance is 0.1)
