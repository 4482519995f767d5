"""Small programs written as the classic TF1 tutorials write them (aymericdamien's
TensorFlow-Examples style): ``"float"`` placeholders, ``input_data.read_data_sets``
on a directory that does not exist (the offline fallback to the bundled digits),
weights in dicts, ``tf.logging``, ``tf.train.Saver``, ops built inside the
training loop. Each trains for a few seconds and checks that it learned.
"""
import logging

import numpy as np
import pytest

import nbflow as tf
from nbflow.examples.tutorials.mnist import input_data

NO_SUCH_DIR = "/nonexistent-nbflow-test/data/"  # TF would download here; nbflow falls back


@pytest.fixture
def mnist(caplog):
    caplog.set_level(logging.WARNING, logger="nbflow")
    data = input_data.read_data_sets(NO_SUCH_DIR, one_hot=True, seed=1)  # next_batch order
    assert any("never downloads" in r.getMessage() for r in caplog.records)
    np.random.seed(1)  # the programs' own numpy randomness
    tf.set_random_seed(1)
    return data


@pytest.fixture
def verbosity():
    logger = logging.getLogger("nbflow")
    saved = logger.level
    yield
    logger.setLevel(saved)


def test_linear_regression(verbosity, caplog):
    caplog.set_level(logging.DEBUG)
    tf.logging.set_verbosity(tf.logging.INFO)
    np.random.seed(0)
    rng = np.random
    train_X = np.asarray([3.3, 4.4, 5.5, 6.71, 6.93, 4.168, 9.779, 6.182, 7.59, 2.167, 7.042, 10.791, 5.313, 7.997,
                          5.654, 9.27, 3.1])
    train_Y = np.asarray([1.7, 2.76, 2.09, 3.19, 1.694, 1.573, 3.366, 2.596, 2.53, 1.221, 2.827, 3.465, 1.65, 2.904,
                          2.42, 2.94, 1.3])
    n_samples = train_X.shape[0]

    X = tf.placeholder("float")
    Y = tf.placeholder("float")
    W = tf.Variable(rng.randn(), name="weight")
    b = tf.Variable(rng.randn(), name="bias")
    pred = tf.add(tf.multiply(X, W), b)
    cost = tf.reduce_sum(tf.pow(pred - Y, 2)) / (2 * n_samples)
    optimizer = tf.train.GradientDescentOptimizer(0.01).minimize(cost)
    init = tf.global_variables_initializer()

    with tf.Session() as sess:
        sess.run(init)
        first = sess.run(cost, feed_dict={X: train_X, Y: train_Y})
        for epoch in range(40):
            for (x, y) in zip(train_X, train_Y):  # one Python float pair per step
                sess.run(optimizer, feed_dict={X: x, Y: y})
            if (epoch + 1) % 20 == 0:
                c = sess.run(cost, feed_dict={X: train_X, Y: train_Y})
                tf.logging.info("Epoch: %04d cost=%.9f W=%s b=%s", epoch + 1, c, sess.run(W), sess.run(b))
        training_cost = sess.run(cost, feed_dict={X: train_X, Y: train_Y})
    assert training_cost < 0.5 * first and training_cost < 0.2
    logged = [r.getMessage() for r in caplog.records if r.name == "nbflow" and r.levelno == logging.INFO]
    assert len(logged) == 2 and logged[0].startswith("Epoch: 0020 cost=")


def test_logistic_regression(mnist):
    x = tf.placeholder("float", [None, 784])
    y = tf.placeholder("float", [None, 10])
    W = tf.Variable(tf.zeros([784, 10]))
    b = tf.Variable(tf.zeros([10]))
    pred = tf.nn.softmax(tf.matmul(x, W) + b)
    cost = tf.reduce_mean(-tf.reduce_sum(y * tf.log(pred), reduction_indices=1))
    optimizer = tf.train.GradientDescentOptimizer(0.5).minimize(cost)
    init = tf.global_variables_initializer()

    batch_size = 100
    with tf.Session() as sess:
        sess.run(init)
        costs = []
        for epoch in range(2):
            avg_cost = 0.0
            total_batch = int(mnist.train.num_examples / batch_size)
            for i in range(total_batch):
                batch_xs, batch_ys = mnist.train.next_batch(batch_size)
                _, c = sess.run([optimizer, cost], feed_dict={x: batch_xs, y: batch_ys})
                avg_cost += c / total_batch
            costs.append(avg_cost)
        correct_prediction = tf.equal(tf.argmax(pred, 1), tf.argmax(y, 1))
        accuracy = tf.reduce_mean(tf.cast(correct_prediction, "float"))
        acc = accuracy.eval({x: mnist.test.images, y: mnist.test.labels})
    assert costs[1] < costs[0] < np.log(10)
    assert acc > 0.8  # chance is 0.1


def test_nearest_neighbor(mnist):
    Xtr, Ytr = mnist.train.next_batch(1000)
    Xte, Yte = mnist.test.next_batch(50)
    xtr = tf.placeholder("float", [None, 784])
    xte = tf.placeholder("float", [784])
    distance = tf.reduce_sum(tf.abs(tf.add(xtr, tf.negative(xte))), reduction_indices=1)  # L1
    pred = tf.arg_min(distance, 0)
    accuracy = 0.0
    init = tf.global_variables_initializer()
    with tf.Session() as sess:
        sess.run(init)
        for i in range(len(Xte)):
            nn_index = sess.run(pred, feed_dict={xtr: Xtr, xte: Xte[i, :]})
            if np.argmax(Ytr[nn_index]) == np.argmax(Yte[i]):
                accuracy += 1.0 / len(Xte)
    assert accuracy > 0.7


def test_multilayer_perceptron(mnist):
    n_hidden_1, n_hidden_2, n_input, n_classes = 64, 64, 784, 10
    X = tf.placeholder("float", [None, n_input])
    Y = tf.placeholder("float", [None, n_classes])
    weights = {
        'h1': tf.Variable(tf.random_normal([n_input, n_hidden_1], stddev=0.1)),
        'h2': tf.Variable(tf.random_normal([n_hidden_1, n_hidden_2], stddev=0.1)),
        'out': tf.Variable(tf.random_normal([n_hidden_2, n_classes], stddev=0.1)),
    }
    biases = {
        'b1': tf.Variable(tf.random_normal([n_hidden_1], stddev=0.1)),
        'b2': tf.Variable(tf.random_normal([n_hidden_2], stddev=0.1)),
        'out': tf.Variable(tf.random_normal([n_classes], stddev=0.1)),
    }

    def multilayer_perceptron(x):
        layer_1 = tf.nn.relu(tf.add(tf.matmul(x, weights['h1']), biases['b1']))
        layer_2 = tf.nn.relu(tf.add(tf.matmul(layer_1, weights['h2']), biases['b2']))
        return tf.matmul(layer_2, weights['out']) + biases['out']

    logits = multilayer_perceptron(X)
    loss_op = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=Y))
    optimizer = tf.train.AdamOptimizer(learning_rate=0.001)
    # a dict view, as Python 2 era tutorials pass weights.values()
    train_op = optimizer.minimize(loss_op, var_list=list(weights.values()) + list(biases.values()))
    init = tf.global_variables_initializer()
    with tf.Session() as sess:
        sess.run(init)
        losses = []
        for step in range(150):
            batch_x, batch_y = mnist.train.next_batch(64)
            _, c = sess.run([train_op, loss_op], feed_dict={X: batch_x, Y: batch_y})
            losses.append(c)
        pred = tf.nn.softmax(logits)
        correct_pred = tf.equal(tf.argmax(pred, 1), tf.argmax(Y, 1))
        accuracy = tf.reduce_mean(tf.cast(correct_pred, "float"))
        acc = sess.run(accuracy, feed_dict={X: mnist.test.images, Y: mnist.test.labels})
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])
    assert acc > 0.8


def test_save_and_restore(mnist, tmp_path):
    model_path = str(tmp_path / "model.ckpt")

    def build():
        x = tf.placeholder("float", [None, 784])
        y = tf.placeholder("float", [None, 10])
        weights = {'h1': tf.Variable(tf.random_normal([784, 32], stddev=0.1)),
                   'out': tf.Variable(tf.random_normal([32, 10], stddev=0.1))}
        biases = {'b1': tf.Variable(tf.zeros([32])), 'out': tf.Variable(tf.zeros([10]))}
        layer_1 = tf.nn.relu(tf.add(tf.matmul(x, weights['h1']), biases['b1']))
        pred = tf.matmul(layer_1, weights['out']) + biases['out']
        cost = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=pred, labels=y))
        optimizer = tf.train.AdamOptimizer(learning_rate=0.01).minimize(cost, var_list=weights.values())
        correct = tf.equal(tf.argmax(pred, 1), tf.argmax(y, 1))
        accuracy = tf.reduce_mean(tf.cast(correct, "float"))
        return x, y, cost, optimizer, accuracy

    x, y, cost, optimizer, accuracy = build()
    init = tf.global_variables_initializer()
    saver = tf.train.Saver()
    test_feed = None
    with tf.Session() as sess:
        sess.run(init)
        for _ in range(60):
            batch_x, batch_y = mnist.train.next_batch(100)
            sess.run(optimizer, feed_dict={x: batch_x, y: batch_y})
        test_feed = {x: mnist.test.images, y: mnist.test.labels}
        acc_before = sess.run(accuracy, test_feed)
        save_path = saver.save(sess, model_path)
    assert save_path == model_path and acc_before > 0.6

    tf.reset_default_graph()
    x, y, cost, optimizer, accuracy = build()
    init = tf.global_variables_initializer()
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(init)
        fresh = sess.run(accuracy, {x: mnist.test.images, y: mnist.test.labels})
        saver.restore(sess, model_path)
        restored = sess.run(accuracy, {x: mnist.test.images, y: mnist.test.labels})
        c0 = sess.run(cost, {x: mnist.test.images, y: mnist.test.labels})
        for _ in range(30):  # resume training from the checkpoint
            batch_x, batch_y = mnist.train.next_batch(100)
            sess.run(optimizer, feed_dict={x: batch_x, y: batch_y})
        c1 = sess.run(cost, {x: mnist.test.images, y: mnist.test.labels})
    assert restored == pytest.approx(acc_before) and fresh < 0.5
    assert c1 < c0 * 1.05


def test_recurrent_network(mnist):
    from nbflow.contrib import rnn

    timesteps, num_input, num_hidden, num_classes = 28, 28, 32, 10
    X = tf.placeholder("float", [None, timesteps, num_input])
    Y = tf.placeholder("float", [None, num_classes])
    weights = {'out': tf.Variable(tf.random_normal([num_hidden, num_classes]))}
    biases = {'out': tf.Variable(tf.random_normal([num_classes]))}

    def RNN(x, weights, biases):
        x = tf.unstack(x, timesteps, 1)
        lstm_cell = rnn.BasicLSTMCell(num_hidden, forget_bias=1.0)
        outputs, states = rnn.static_rnn(lstm_cell, x, dtype=tf.float32)
        return tf.matmul(outputs[-1], weights['out']) + biases['out']

    logits = RNN(X, weights, biases)
    loss_op = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=Y))
    train_op = tf.train.GradientDescentOptimizer(learning_rate=0.5).minimize(loss_op)
    correct_pred = tf.equal(tf.argmax(tf.nn.softmax(logits), 1), tf.argmax(Y, 1))
    accuracy = tf.reduce_mean(tf.cast(correct_pred, tf.float32))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        losses = []
        for step in range(60):
            batch_x, batch_y = mnist.train.next_batch(64)
            batch_x = batch_x.reshape((64, timesteps, num_input))
            _, loss = sess.run([train_op, loss_op], feed_dict={X: batch_x, Y: batch_y})
            losses.append(loss)
        test_data = mnist.test.images[:500].reshape((-1, timesteps, num_input))
        acc = sess.run(accuracy, feed_dict={X: test_data, Y: mnist.test.labels[:500]})
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:10])
    assert acc > 0.3


def test_gan_building_ops_in_its_loop(mnist):
    noise_dim, image_dim, gen_hidden_dim, disc_hidden_dim, batch_size = 32, 784, 64, 64, 64

    def glorot_init(shape):
        return tf.random_normal(shape=shape, stddev=1. / tf.sqrt(shape[0] / 2.))

    weights = {
        'gen_hidden1': tf.Variable(glorot_init([noise_dim, gen_hidden_dim])),
        'gen_out': tf.Variable(glorot_init([gen_hidden_dim, image_dim])),
        'disc_hidden1': tf.Variable(glorot_init([image_dim, disc_hidden_dim])),
        'disc_out': tf.Variable(glorot_init([disc_hidden_dim, 1])),
    }
    biases = {
        'gen_hidden1': tf.Variable(tf.zeros([gen_hidden_dim])),
        'gen_out': tf.Variable(tf.zeros([image_dim])),
        'disc_hidden1': tf.Variable(tf.zeros([disc_hidden_dim])),
        'disc_out': tf.Variable(tf.zeros([1])),
    }

    def generator(x):
        hidden_layer = tf.nn.relu(tf.add(tf.matmul(x, weights['gen_hidden1']), biases['gen_hidden1']))
        return tf.nn.sigmoid(tf.add(tf.matmul(hidden_layer, weights['gen_out']), biases['gen_out']))

    def discriminator(x):
        hidden_layer = tf.nn.relu(tf.add(tf.matmul(x, weights['disc_hidden1']), biases['disc_hidden1']))
        return tf.nn.sigmoid(tf.add(tf.matmul(hidden_layer, weights['disc_out']), biases['disc_out']))

    gen_input = tf.placeholder("float", shape=[None, noise_dim], name='input_noise')
    disc_input = tf.placeholder("float", shape=[None, image_dim], name='disc_input')
    gen_sample = generator(gen_input)
    disc_real = discriminator(disc_input)
    disc_fake = discriminator(gen_sample)
    gen_loss = -tf.reduce_mean(tf.log(disc_fake))
    disc_loss = -tf.reduce_mean(tf.log(disc_real) + tf.log(1. - disc_fake))
    gen_vars = (v for k, v in sorted(weights.items()) + sorted(biases.items()) if k.startswith('gen'))
    disc_vars = {k: v for k, v in list(weights.items()) + [("b_" + k, v) for k, v in biases.items()]
                 if 'disc' in k}
    train_gen = tf.train.AdamOptimizer(learning_rate=0.002).minimize(gen_loss, var_list=gen_vars)
    train_disc = tf.train.AdamOptimizer(learning_rate=0.002).minimize(disc_loss, var_list=disc_vars.values())
    init = tf.global_variables_initializer()

    with tf.Session() as sess:
        sess.run(init)
        n_before = len(tf.get_default_graph().get_operations())
        for i in range(1, 41):
            batch_x, _ = mnist.train.next_batch(batch_size)
            # the noise is drawn by a new op at every step, as some tutorials do
            z = sess.run(tf.random_uniform([batch_size, noise_dim], -1., 1.))
            feed_dict = {disc_input: batch_x, gen_input: z}
            _, _, gl, dl = sess.run([train_gen, train_disc, gen_loss, disc_loss], feed_dict=feed_dict)
            assert np.isfinite(gl) and np.isfinite(dl)
        z = np.random.uniform(-1., 1., size=[256, noise_dim])
        d_real_scores, d_fake_scores = sess.run([disc_real, disc_fake],
                                                feed_dict={disc_input: mnist.test.images[:256], gen_input: z})
        g = sess.run(gen_sample, feed_dict={gen_input: z[:4]})
        assert len(tf.get_default_graph().get_operations()) > n_before + 40  # the loop grew the graph
    # the discriminator learned to tell real digits from the generator's images
    assert np.mean(d_real_scores) > np.mean(d_fake_scores) + 0.1
    assert np.mean(d_real_scores > 0.5) > 0.7
    assert g.shape == (4, 784) and 0.0 <= g.min() and g.max() <= 1.0
