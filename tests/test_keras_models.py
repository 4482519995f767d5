"""tf.keras models: the functional API (KerasTensors, nodes, shared layers, multi-input),
Sequential (add/pop, lazy build), subclassed models, summary's exact text, TF 1 graphs."""
import numpy as np
import pytest

import nbflow as tf
from nbflow.framework import context
from nbflow.keras import backend


@pytest.fixture
def eager():
    backend.clear_session()
    with context.eager_mode():
        yield


def _dense_ref(x, layer, act=None):
    k, b = layer.get_weights()
    y = x @ k + b
    return np.maximum(y, 0) if act == "relu" else y


def test_input_is_a_keras_tensor(eager):
    x = tf.keras.Input(shape=(4,), name="features")
    assert x._keras_symbolic and x.shape.as_list() == [None, 4] and x.dtype == tf.float32
    assert x.name == "features"
    assert "KerasTensor: shape=(None, 4) dtype=float32" in repr(x)
    y = tf.keras.layers.Dense(3)(x)
    assert y.shape.as_list() == [None, 3]
    assert tf.keras.Input(shape=(2, 3), batch_size=8).shape.as_list() == [8, 2, 3]
    with pytest.raises(ValueError):
        tf.keras.Input()


def test_functional_single_input_matches_numpy(eager):
    inp = tf.keras.Input(shape=(4,))
    d1, d2 = tf.keras.layers.Dense(8, activation="relu"), tf.keras.layers.Dense(3)
    model = tf.keras.Model(inp, d2(d1(inp)), name="mlp")
    assert isinstance(model, tf.keras.Model) and model.name == "mlp"
    assert [type(l).__name__ for l in model.layers] == ["InputLayer", "Dense", "Dense"]
    assert model.get_layer(d1.name) is d1 and model.get_layer(index=2) is d2
    assert model.inputs == [inp] and model.output_shape == (None, 3)
    assert len(model.weights) == 4 and len(model.trainable_weights) == 4
    x = np.random.RandomState(0).randn(5, 4).astype(np.float32)
    np.testing.assert_allclose(model(x).numpy(), _dense_ref(_dense_ref(x, d1, "relu"), d2), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.predict(x), model(x).numpy(), rtol=1e-6)
    assert d1.output_shape == (None, 8) and d1.input_shape == (None, 4)
    with pytest.raises(ValueError, match="No such layer"):
        model.get_layer("nope")


def test_functional_multi_input_concatenate_add(eager):
    a, b = tf.keras.Input(shape=(3,), name="a"), tf.keras.Input(shape=(2,), name="b")
    c = tf.keras.layers.Concatenate()([a, b])
    h = tf.keras.layers.Dense(4)(c)
    s = tf.keras.layers.Add()([h, tf.keras.layers.Dense(4)(c)])
    model = tf.keras.Model(inputs=[a, b], outputs=s)
    xa, xb = np.ones((2, 3), np.float32), np.full((2, 2), 2.0, np.float32)
    out = model([xa, xb]).numpy()
    assert out.shape == (2, 4)
    np.testing.assert_allclose(model.predict({"a": xa, "b": xb}), out, rtol=1e-6)
    np.testing.assert_allclose(model.predict([xa, xb], batch_size=1), out, rtol=1e-6)


def test_shared_layer_and_multiple_outputs(eager):
    shared = tf.keras.layers.Dense(2, name="shared")
    a, b = tf.keras.Input(shape=(3,)), tf.keras.Input(shape=(3,))
    model = tf.keras.Model([a, b], [shared(a), shared(b)])
    assert len(shared.inbound_nodes) == 2 and len(model.weights) == 2
    xa, xb = np.eye(3, dtype=np.float32), np.ones((3, 3), np.float32)
    ya, yb = model([xa, xb])
    np.testing.assert_allclose(ya.numpy(), _dense_ref(xa, shared), rtol=1e-6)
    np.testing.assert_allclose(yb.numpy(), _dense_ref(xb, shared), rtol=1e-6)
    assert shared.output_shape == (None, 2)
    pa, pb = model.predict([xa, xb])
    np.testing.assert_allclose(pb, yb.numpy(), rtol=1e-6)


def test_graph_disconnected_and_non_keras_tensors(eager):
    a, b = tf.keras.Input(shape=(3,)), tf.keras.Input(shape=(3,))
    out = tf.keras.layers.Add()([a, b])
    with pytest.raises(ValueError, match="Graph disconnected"):
        tf.keras.Model(a, out)
    with pytest.raises(ValueError):
        tf.keras.Model(a, np.ones(3))


def test_keras_tensor_arithmetic_and_custom_layer_without_output_shape(eager):
    class Square(tf.keras.layers.Layer):  # no compute_output_shape: a scratch-graph call infers it
        def call(self, x):
            return x * x

    a = tf.keras.Input(shape=(2,))
    y = Square()(a) + a * 2.0 - 1.0
    z = -y
    model = tf.keras.Model(a, z)
    x = np.array([[1.0, 2.0], [3.0, -1.0]], np.float32)
    np.testing.assert_allclose(model(x).numpy(), -(x * x + 2 * x - 1), rtol=1e-6)
    assert model.output_shape == (None, 2)


def test_nested_model_as_layer(eager):
    inner_in = tf.keras.Input(shape=(3,))
    inner = tf.keras.Model(inner_in, tf.keras.layers.Dense(2)(inner_in), name="inner")
    x = tf.keras.Input(shape=(3,))
    outer = tf.keras.Model(x, tf.keras.layers.Dense(1)(inner(x)))
    assert outer.output_shape == (None, 1) and len(outer.weights) == 4
    data = np.ones((4, 3), np.float32)
    assert outer.predict(data).shape == (4, 1)


def test_sequential_add_pop_and_layers(eager):
    model = tf.keras.Sequential(name="seq")
    model.add(tf.keras.Input(shape=(4,)))
    model.add(tf.keras.layers.Dense(8, activation="relu"))
    model.add(tf.keras.layers.Dense(2))
    assert model.built and [l.name for l in model.layers] == ["dense", "dense_1"]
    assert model.output_shape == (None, 2)
    model.add(tf.keras.layers.Dense(5))
    assert model.output_shape == (None, 5)
    model.pop()
    assert model.output_shape == (None, 2) and len(model.layers) == 2
    assert model(np.ones((3, 4), np.float32)).shape.as_list() == [3, 2]
    assert len(model.weights) == 4
    with pytest.raises(TypeError):
        model.add("dense")


def test_sequential_lazy_build(eager):
    model = tf.keras.Sequential([tf.keras.layers.Dense(3), tf.keras.layers.Dense(1)])
    assert not model.built and model.weights == []
    with pytest.raises(ValueError, match="This model has not yet been built"):
        model.summary()
    out = model(np.ones((2, 5), np.float32))
    assert out.shape.as_list() == [2, 1] and model.built
    assert model.layers[0].kernel.shape.as_list() == [5, 3]
    lines = []
    model.summary(print_fn=lines.append)
    assert "Total params: 22" in lines
    built = tf.keras.Sequential([tf.keras.layers.Dense(3)])
    built.build((None, 7))
    assert built.output_shape == (None, 3) and built.count_params() == 24


def test_subclassed_model(eager):
    class MLP(tf.keras.Model):
        def __init__(self):
            super().__init__(name="my_mlp")
            self.hidden = tf.keras.layers.Dense(4, activation="relu")
            self.out = tf.keras.layers.Dense(2)

        def call(self, inputs, training=None):
            return self.out(self.hidden(inputs))

    model = MLP()
    x = np.random.RandomState(1).randn(6, 3).astype(np.float32)
    y = model(x)
    assert y.shape.as_list() == [6, 2] and len(model.trainable_weights) == 4
    assert [l.name for l in model.layers] == [model.hidden.name, model.out.name]
    np.testing.assert_allclose(y.numpy(), _dense_ref(_dense_ref(x, model.hidden, "relu"), model.out), rtol=1e-5,
                               atol=1e-6)
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[0] == 'Model: "my_mlp"'
    assert lines[4].split() == ["dense", "(Dense)", "multiple", "16"]
    assert "Total params: 26" in lines


SUMMARY = """\
Model: "sequential"
_________________________________________________________________
Layer (type)                 Output Shape              Param #   
=================================================================
dense (Dense)                (None, 512)               401920    
_________________________________________________________________
dropout (Dropout)            (None, 512)               0         
_________________________________________________________________
dense_1 (Dense)              (None, 10)                5130      
=================================================================
Total params: 407,050
Trainable params: 407,050
Non-trainable params: 0
_________________________________________________________________"""


def test_summary_exact_text(eager, capsys):
    model = tf.keras.Sequential([
        tf.keras.layers.Dense(512, activation="relu", input_shape=(784,)),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(10, activation="softmax"),
    ])
    model.summary()
    assert capsys.readouterr().out.rstrip("\n") == SUMMARY
    lines = []
    model.summary(line_length=80, print_fn=lines.append)
    assert all(len(l) == 80 for l in lines if l.startswith(("_", "=")))


def test_summary_connected_to(eager):
    a, b = tf.keras.Input(shape=(3,), name="a"), tf.keras.Input(shape=(2,), name="b")
    c = tf.keras.layers.Concatenate(name="concat")([a, b])
    model = tf.keras.Model([a, b], tf.keras.layers.Dense(1, name="out")(c), name="two")
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[0] == 'Model: "two"' and lines[1] == "_" * 98
    assert lines[2].rstrip() == ("Layer (type)" + " " * 20 + "Output Shape" + " " * 9 + "Param #" + " " * 5
                                 + "Connected to")
    text = "\n".join(lines)
    assert "a (InputLayer)                  [(None, 3)]          0" in text
    concat = next(i for i, l in enumerate(lines) if l.startswith("concat"))
    assert lines[concat].rstrip().endswith("a[0][0]") and lines[concat + 1].strip() == "b[0][0]"
    assert "(None, 5)" in lines[concat]
    assert "Total params: 6" in lines


def test_tf1_graph_call_and_predict():
    backend.clear_session()
    with tf.Graph().as_default():
        inp = tf.keras.Input(shape=(3,))
        model = tf.keras.Model(inp, tf.keras.layers.Dense(2)(inp))
        ph = tf.placeholder(tf.float32, [None, 3])
        y = model(ph)
        x = np.ones((4, 3), np.float32)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            out = sess.run(y, {ph: x})
            np.testing.assert_allclose(model.predict(x), out, rtol=1e-6)
            k, b = model.get_weights()
            np.testing.assert_allclose(out, x @ k + b, rtol=1e-6)
        model.compile(optimizer="sgd", loss="mse")
        with pytest.raises(NotImplementedError, match="eager execution"):
            model.fit(x, np.zeros((4, 2), np.float32))
