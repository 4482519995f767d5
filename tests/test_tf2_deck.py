"""The TF 2 course deck's snippets (shared/seeds/003_*), run eagerly.

The deck's ``MLP`` calls ``Dense(input_size=..., output_size=...)`` while its
own ``Dense`` takes ``in_features, out_features`` -- TF raises a TypeError on
that too -- so the MLP here passes them by position; everything else is the
deck's code.
"""
import numpy as np
import pytest

import nbflow as tf
from nbflow.framework import context


@pytest.fixture(autouse=True)
def eager():
    with context.eager_mode():
        yield


class Dense(tf.Module):

    def __init__(self, in_features, out_features, name=None):

        super(Dense, self).__init__(name=name)

        # 가중치와 편향 정의
        self.w = tf.Variable(tf.random.normal([in_features, out_features]), name='w')
        self.b = tf.Variable(tf.zeros([out_features]), name='b')

    def __call__(self, x):

        y = tf.matmul(x, self.w) + self.b  # 가중 합산
        return tf.nn.relu(y)  # 활성화 함수 실행


class MLP(tf.Module):

    def __init__(self, input_size, sizes, name=None):  # sizes에는 각 계층의 뉴런 개수가 정의되어 있음
        super(MLP, self).__init__(name=name)

        self.layers = []  # 계층의 리스트
        with self.name_scope:
            for size in sizes:
                self.layers.append(Dense(input_size, size))  # 각 계층 정의 (the deck passes keywords Dense lacks)
                input_size = size

    @tf.Module.with_name_scope
    def __call__(self, x):
        for layer in self.layers:  # 각 계층을 순서대로 호출
            x = layer(x)
        return x


def test_print_c_is_a_value(capsys):
    a = tf.constant(3)
    b = tf.constant(5)
    c = a + b
    print(c)
    assert capsys.readouterr().out == "tf.Tensor(8, shape=(), dtype=int32)\n"


def test_define_by_run(capsys):
    w = tf.Variable(2.0, name='weight')
    b = tf.Variable(0.7, name='bias')

    # ## z 평가
    for x in [1.0, 0.6, -1.8]:
        z = w * x + b
        print('x=%4.1f --> z=%4.1f' % (x, z))
    assert capsys.readouterr().out == "x= 1.0 --> z= 2.7\nx= 0.6 --> z= 1.9\nx=-1.8 --> z=-2.9\n"


def test_simple_func_is_a_graph():
    @tf.function
    def simple_func(x):
        # complex computation with pure python
        z = x
        for _ in range(3):
            z = z * 2 + 1
        if tf.reduce_sum(z) > 0:
            z = -z
        return z

    output = simple_func(tf.constant([1.0, 2.0]))
    np.testing.assert_array_equal(output.numpy(), [-15.0, -23.0])
    assert simple_func.experimental_get_tracing_count() == 1
    simple_func(tf.constant([3.0, 4.0]))
    assert simple_func.experimental_get_tracing_count() == 1


def test_module_variables_and_names():
    mlp = MLP(input_size=4, sizes=[8, 3], name="mlp")
    assert len(mlp.variables) == 4 and len(mlp.trainable_variables) == 4
    assert len(mlp.submodules) == 2
    # TF 2: eager name scopes are not uniquified; the deck's Dense does not enter its own scope
    assert sorted(v.name for v in mlp.variables) == ["mlp/b:0", "mlp/b:0", "mlp/w:0", "mlp/w:0"]
    y = mlp(tf.ones([2, 4]))
    assert y.shape == (2, 3)


def test_training_step_from_the_deck():
    tf.random.set_seed(0)
    model = MLP(input_size=6, sizes=[16, 4], name="mlp")
    optimizer = tf.keras.optimizers.Adam(learning_rate=0.01)
    rng = np.random.RandomState(0)
    inputs = tf.constant(rng.standard_normal((32, 6)).astype(np.float32))
    targets = tf.constant((rng.standard_normal(32) > 0).astype(np.int64) * 3)

    @tf.function
    def train_step(input, target):
        with tf.GradientTape() as tape:
            # forward Pass
            predictions = model(input)
            # compute the loss
            loss = tf.reduce_mean(
                tf.keras.losses.sparse_categorical_crossentropy(
                    target, predictions, from_logits=True))
        # compute gradients
        grads = tape.gradient(loss, model.trainable_variables)
        # perform a gradient descent step
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    losses = [float(train_step(inputs, targets)) for _ in range(30)]
    assert losses[-1] < losses[0]
    assert train_step.experimental_get_tracing_count() == 1

    # the same step eagerly, from the same weights, gives the same numbers
    weights = [v.numpy().copy() for v in model.trainable_variables]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
            targets, model(inputs), from_logits=True))
    grads = tape.gradient(loss, model.trainable_variables)
    traced = train_step.python_function
    del traced
    for v, w in zip(model.trainable_variables, weights):
        np.testing.assert_array_equal(v.numpy(), w)
    assert all(g is not None for g in grads[:2])
