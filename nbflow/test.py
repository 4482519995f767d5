"""tf.test: the numerical gradient checker (compute_gradient, compute_gradient_error)."""
import numpy as np

from nbflow.autodiff.gradients import gradients
from nbflow.backends import cuda as _cuda
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops.constant_op import placeholder
from nbflow.runtime.session import get_default_session


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _jacobians(x, x_shape, x_value, y, y_shape, delta, feed, sess):
    """Theoretical (by tf.gradients) and numerical (central differences) Jacobians,
    each of shape (x.size, y.size)."""
    x_size = int(np.prod(x_shape))
    y_size = int(np.prod(y_shape))
    dy = placeholder(y.dtype, shape=y_shape, name="grad_check_dy")
    (gx,) = gradients(y, x, grad_ys=dy)
    theoretical = np.zeros((x_size, y_size))
    if gx is not None:
        for j in range(y_size):
            one_hot = np.zeros(y_size, dtype=y.dtype.as_numpy_dtype)
            one_hot[j] = 1
            f = dict(feed)
            f[x] = x_value
            f[dy] = one_hot.reshape(y_shape)
            theoretical[:, j] = np.asarray(sess.run(gx, f), dtype=np.float64).reshape(-1)
    numerical = np.zeros((x_size, y_size))
    flat = x_value.reshape(-1)
    for i in range(x_size):
        orig = flat[i]
        flat[i] = orig + delta
        f = dict(feed)
        f[x] = x_value
        y_pos = np.asarray(sess.run(y, f), dtype=np.float64).reshape(-1)
        flat[i] = orig - delta
        f[x] = x_value
        y_neg = np.asarray(sess.run(y, f), dtype=np.float64).reshape(-1)
        flat[i] = orig
        numerical[i, :] = (y_pos - y_neg) / (2 * delta)
    return theoretical, numerical


def compute_gradient(x, x_shape, y, y_shape, x_init_value=None, delta=1e-3, init_targets=None,
                     extra_feed_dict=None):
    """Return (theoretical, numerical) Jacobians of y w.r.t. x, as TF 1.x does.

    ``x`` may be a Tensor or a list of Tensors (then a list of pairs is returned).
    Runs in the default session.
    """
    sess = get_default_session()
    if sess is None:
        raise ValueError("compute_gradient needs a default session (use `with tf.Session():`)")
    if init_targets is not None:
        sess.run(init_targets)
    feed = dict(extra_feed_dict or {})
    xs, shapes = _as_list(x), _as_list(x_shape) if isinstance(x, (list, tuple)) else [x_shape]
    values = _as_list(x_init_value) if isinstance(x, (list, tuple)) and x_init_value is not None \
        else [x_init_value] * len(xs)
    rng = np.random.RandomState(1)
    out = []
    for xi, shp, val in zip(xs, shapes, values):
        shp = tuple(TensorShape(shp).as_list())
        npd = xi.dtype.as_numpy_dtype
        if val is None:
            val = rng.random_sample(shp).astype(npd)
        val = np.array(val, dtype=npd).reshape(shp)
        others = {xo: np.array(vo if vo is not None else rng.random_sample(tuple(TensorShape(so).as_list())),
                               dtype=xo.dtype.as_numpy_dtype)
                  for xo, so, vo in zip(xs, shapes, values) if xo is not xi}
        f = dict(feed)
        f.update(others)
        out.append(_jacobians(xi, shp, val, y, tuple(TensorShape(y_shape).as_list()), delta, f, sess))
    return out if isinstance(x, (list, tuple)) else out[0]


def compute_gradient_error(x, x_shape, y, y_shape, x_init_value=None, delta=1e-3, init_targets=None,
                           extra_feed_dict=None):
    """Max absolute difference between theoretical and numerical Jacobians."""
    grad = compute_gradient(x, x_shape, y, y_shape, x_init_value, delta, init_targets, extra_feed_dict)
    if isinstance(grad, tuple):
        grad = [grad]
    return max(float(np.max(np.abs(t - n))) if t.size else 0.0 for t, n in grad)


def is_gpu_available(cuda_only=False, min_cuda_compute_capability=None):
    """Whether a GPU device is registered (numba-cuda and a GPU, or the simulator
    testing mode). ``min_cuda_compute_capability=(major, minor)`` is checked on a real GPU."""
    if not _cuda.gpu_count():
        return False
    if min_cuda_compute_capability is not None and not _cuda.support.status().simulator:
        from numba import cuda
        return tuple(cuda.get_current_device().compute_capability) >= tuple(min_cuda_compute_capability)
    return True


def is_built_with_cuda():
    """numba-cuda (the ``nbflow[cuda]`` extra) is installed."""
    return _cuda.is_built_with_cuda()


def is_built_with_gpu_support():
    return is_built_with_cuda()


def gpu_device_name():
    """``'/device:GPU:0'`` when a GPU is available, else ``''``."""
    return "/device:GPU:0" if _cuda.gpu_count() else ""
