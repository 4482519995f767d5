"""GPU MatrixInverse and MatrixDeterminant (one block a matrix) and their gradients under the
CUDA simulator, compared with the CPU kernels (run by tests/test_cuda_sim.py in a child process)."""
import numpy as np
import pytest

import nbflow as tf
from cuda_sim_cases import _on_gpu, assert_close, run_both

pytestmark = pytest.mark.skipif(not tf.test.is_gpu_available(), reason="needs the simulated (or a real) GPU")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inverse_determinant_and_their_gradients(dtype):
    rng = np.random.RandomState(41)
    a = (rng.randn(2, 3, 4, 4) + 3 * np.eye(4)).astype(dtype)
    a[0, 1] = a[0, 1][[2, 0, 3, 1]]             # pivoting needed (row swaps)
    b = rng.randn(6, 6).astype(dtype)            # a 6x6: more entries than a 32-thread block's rows
    s = np.array([[1.0, 2.0], [2.0, 4.0]], dtype)  # singular: determinant 0
    w = rng.randn(*a.shape).astype(dtype)
    tol = dict(rtol=2e-4, atol=2e-4) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-9)

    def build():
        pa = tf.placeholder(tf.as_dtype(dtype), [None, 3, 4, 4])
        pb, ps = tf.placeholder(tf.as_dtype(dtype), b.shape), tf.placeholder(tf.as_dtype(dtype), s.shape)
        inv, inv_t = tf.matrix_inverse(pa), tf.matrix_inverse(pb, adjoint=True)
        det = tf.matrix_determinant(pa)
        outs = [inv, inv_t, tf.matrix_inverse(pb), det, tf.matrix_determinant(pb), tf.matrix_determinant(ps),
                tf.matrix_determinant(tf.zeros([2, 0, 0], dtype)), tf.matrix_inverse(tf.zeros([0, 3, 3], dtype)),
                tf.matrix_determinant(pb[:1, :1])]
        # upstream gradients given (grad_ys), not through reductions: the simulator is slow at those
        outs += tf.gradients([inv, inv_t], [pa, pb], grad_ys=[tf.constant(w), tf.constant(b.T.copy())])
        outs += tf.gradients(det, pa, grad_ys=tf.constant(w[..., 0, 0]))
        return outs, lambda: {pa: a, pb: b, ps: s}
    cpu, gpu, text = run_both(build)
    assert_close(cpu, gpu, **tol)
    assert _on_gpu(text, "MatrixInverse") and _on_gpu(text, "MatrixDeterminant")


def test_singular_inverse_is_an_error_on_the_gpu():
    with tf.Graph().as_default():
        with tf.device("/gpu:0"):
            pa = tf.placeholder(tf.float32, [2, 3, 3])
            y = tf.matrix_inverse(pa)
        with tf.Session() as sess:
            ok = np.stack([np.eye(3, dtype=np.float32) * 2] * 2)
            np.testing.assert_allclose(sess.run(y, {pa: ok}), ok / 4)
            bad = ok.copy()
            bad[1, 2] = bad[1, 0]
            with pytest.raises(tf.errors.InvalidArgumentError, match="Input is not invertible."):
                sess.run(y, {pa: bad})
