"""tf.as_dtype's string aliases and numpy forms, as TF 1.15's dtypes.py accepts them."""
import numpy as np
import pytest

import nbflow as tf


@pytest.mark.parametrize("name,expected", [
    ("float", "float32"), ("double", "float64"), ("half", "float16"),
    ("float16", "float16"), ("float32", "float32"), ("float64", "float64"), ("int8", "int8"),
    ("int16", "int16"), ("int32", "int32"), ("int64", "int64"), ("uint8", "uint8"), ("uint16", "uint16"),
    ("bool", "bool"), ("string", "string"),
])
def test_string_names_and_aliases(name, expected):
    dt = tf.as_dtype(name)
    assert dt is getattr(tf, expected)
    assert dt == name  # DType.__eq__ converts the other side the same way
    assert tf.dtypes.as_dtype(name) is dt


@pytest.mark.parametrize("value,expected", [
    (np.float16, "float16"), (np.float32, "float32"), (np.float64, "float64"), (np.int8, "int8"),
    (np.int16, "int16"), (np.int32, "int32"), (np.int64, "int64"), (np.uint8, "uint8"), (np.uint16, "uint16"),
    (np.bool_, "bool"), (np.object_, "string"), (np.bytes_, "string"), (np.str_, "string"),
    (np.dtype("float32"), "float32"), (np.dtype("float64"), "float64"), (np.dtype("int64"), "int64"),
    (np.dtype("bool"), "bool"), (np.dtype("S3"), "string"), (np.dtype("U2"), "string"),
    (np.dtype(object), "string"), (float, "float32"), (bool, "bool"), (object, "string"),
])
def test_numpy_and_python_types(value, expected):
    assert tf.as_dtype(value) is getattr(tf, expected)


def test_aliases_in_tutorial_calls():
    x = tf.placeholder("float", [None, 784])
    assert x.dtype is tf.float32
    assert tf.cast(x, "double").dtype is tf.float64
    assert tf.zeros([2], "half").dtype is tf.float16
    assert tf.Variable(tf.zeros([3]), dtype="float").dtype.base_dtype is tf.float32
    correct = tf.equal(tf.argmax(x, 1), tf.argmax(x, 1))
    acc = tf.reduce_mean(tf.cast(correct, "float"))
    with tf.Session() as sess:
        assert sess.run(acc, {x: np.eye(3, 784)}) == 1.0


@pytest.mark.parametrize("name", ["complex64", "complex128", "uint32", "uint64", "bfloat16", "qint8",
                                  "resource", "variant", "float32_ref", "float_ref", "int32_ref"])
def test_tf_dtypes_nbflow_lacks_are_named(name):
    with pytest.raises(TypeError, match="nbflow does not support tf.%s" % name):
        tf.as_dtype(name)


@pytest.mark.parametrize("value", ["int", "f4", "float32 ", "Float", "complex-ish", np.complex64, np.uint32])
def test_other_values_are_rejected(value):
    with pytest.raises(TypeError, match="Cannot convert value .* to a TensorFlow DType"):
        tf.as_dtype(value)
    assert (tf.float32 == value) is False
