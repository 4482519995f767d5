"""Helpers of the tf.keras.layers tests: run one layer with given weights eagerly,
inside a tf.function and in a TF 1 graph (unknown batch dimension), and check
gradients by finite differences in a graph."""
import numpy as np

import nbflow as tf
from nbflow.framework.context import eager_mode


def _np(y):
    if isinstance(y, (list, tuple)):
        return [_np(v) for v in y]
    return np.asarray(y.numpy() if hasattr(y, "numpy") else y)


def run_eager(make, x, weights=None, **kwargs):
    with eager_mode():
        tf.keras.backend.clear_session()
        layer = make()
        layer(x, **kwargs)
        if weights is not None:
            layer.set_weights(weights)
        return _np(layer(x, **kwargs)), layer


def run_function(make, x, weights=None, **kwargs):
    with eager_mode():
        tf.keras.backend.clear_session()
        layer = make()

        @tf.function
        def f(inp):
            return layer(inp, **kwargs)

        f(x)  # the first trace creates the weights (lifted out of the trace)
        if weights is not None:
            layer.set_weights(weights)
        return _np(f(x)), layer


def run_graph(make, x, weights=None, unknown_batch=True, **kwargs):
    with tf.Graph().as_default():
        layer = make()
        xs = x if isinstance(x, (list, tuple)) else [x]
        phs = []
        for v in xs:
            v = np.asarray(v)
            shape = list(v.shape)
            if unknown_batch and shape:
                shape[0] = None
            phs.append(tf.placeholder(tf.as_dtype(v.dtype), shape))
        y = layer(phs if isinstance(x, (list, tuple)) else phs[0], **kwargs)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            with sess.as_default():
                if weights is not None:
                    layer.set_weights(weights)
            out = sess.run(y, dict(zip(phs, [np.asarray(v) for v in xs])))
        return _np(out), layer


def run_all(make, x, weights=None, **kwargs):
    """The outputs eagerly, in a tf.function and in a graph (lists when the layer returns several)."""
    return [run(make, x, weights, **kwargs)[0] for run in (run_eager, run_function, run_graph)]


def check_all(make, x, ref, weights=None, rtol=1e-5, atol=1e-6, **kwargs):
    for out in run_all(make, x, weights, **kwargs):
        if isinstance(ref, (list, tuple)):
            assert len(out) == len(ref)
            for o, r in zip(out, ref):
                np.testing.assert_allclose(o, r, rtol=rtol, atol=atol)
        else:
            np.testing.assert_allclose(out, ref, rtol=rtol, atol=atol)


def check_gradients(make, x, weights=None, eps=1e-6, tol=1e-5, seed=0, **kwargs):
    """float64 graph: tf.gradients of sum(y * r) w.r.t. the input and every weight
    against central differences."""
    x = np.asarray(x, np.float64)
    with tf.Graph().as_default():
        layer = make()
        ph = tf.placeholder(tf.float64, x.shape)
        y = layer(ph, **kwargs)
        r = np.random.RandomState(seed).standard_normal(y.shape.as_list())
        loss = tf.reduce_sum(y * r)
        params = layer.trainable_weights
        grads = tf.gradients(loss, [ph] + list(params))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            with sess.as_default():
                if weights is not None:
                    layer.set_weights(weights)
                values = layer.get_weights()
                got = sess.run(grads, {ph: x})

                def f(xv, wv):
                    layer.set_weights(wv)
                    return sess.run(loss, {ph: xv})

                num_x = np.zeros_like(x)
                for i in np.ndindex(*x.shape):
                    xp, xm = x.copy(), x.copy()
                    xp[i] += eps
                    xm[i] -= eps
                    num_x[i] = (f(xp, values) - f(xm, values)) / (2 * eps)
                np.testing.assert_allclose(got[0], num_x, rtol=tol, atol=tol)
                trainable_ids = {id(p) for p in params}
                index = [k for k, w in enumerate(layer.weights) if id(w) in trainable_ids]
                for g, k in zip(got[1:], index):
                    num = np.zeros_like(values[k])
                    for i in np.ndindex(*values[k].shape):
                        wp = [v.copy() for v in values]
                        wm = [v.copy() for v in values]
                        wp[k][i] += eps
                        wm[k][i] -= eps
                        num[i] = (f(x, wp) - f(x, wm)) / (2 * eps)
                    np.testing.assert_allclose(g, num, rtol=tol, atol=tol)
                layer.set_weights(values)
