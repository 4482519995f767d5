"""kernels/cpu/microgemm.py's gemm against numpy: every tile shape, strides, offsets, accumulate."""
import numpy as np
import pytest

from nbflow.kernels.cpu.microgemm import gemm_flat as gemm


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,kk,n", [
    (1, 1, 1), (7, 5, 3),        # below one vector: the scalar columns only
    (13, 9, 37),                 # 6-row tiles + 1 row; 4/2/1-vector tiles (float64) + scalar columns
    (12, 288, 64), (5, 3, 130), (6, 0, 16), (0, 4, 16),
])
def test_gemm_matches_numpy(dtype, m, kk, n):
    rng = np.random.RandomState(0)
    a = rng.randn(m, kk).astype(dtype)
    b = rng.randn(kk, n).astype(dtype)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    # float32: sums of kk products of N(0, 1) values, rounded kk times
    tol = dict(rtol=1e-5, atol=1e-5 + 1e-6 * kk) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    c = np.full((m, n), np.nan, dtype)
    gemm(a.ravel(), 0, kk, 1, m, b.ravel(), 0, n, n, c.ravel(), 0, n, kk, False)
    np.testing.assert_allclose(c, ref, **tol)
    gemm(a.ravel(), 0, kk, 1, m, b.ravel(), 0, n, n, c.ravel(), 0, n, kk, True)   # accumulate: C += A B
    np.testing.assert_allclose(c, 2 * ref, **tol)
    at = np.ascontiguousarray(a.T)                                            # A read transposed
    c2 = np.full((m, n), np.nan, dtype)
    gemm(at.ravel(), 0, 1, m, m, b.ravel(), 0, n, n, c2.ravel(), 0, n, kk, False)
    np.testing.assert_allclose(c2, ref, **tol)


def test_gemm_offsets_and_leading_dims_touch_only_the_block():
    """A, B and C as blocks inside bigger flat arrays (offsets, leading dimensions): the rest of
    C stays as it was."""
    rng = np.random.RandomState(1)
    big_a, big_b = rng.randn(20, 30).astype(np.float32), rng.randn(40, 50).astype(np.float32)
    big_c = rng.randn(25, 45).astype(np.float32)
    before = big_c.copy()
    a, b = big_a[2:15, 3:23], big_b[5:25, 4:41]          # A 13x20, B 20x37
    gemm(big_a.ravel(), 2 * 30 + 3, 30, 1, 13, big_b.ravel(), 5 * 50 + 4, 50, 37,
         big_c.ravel(), 1 * 45 + 2, 45, 20, False)
    np.testing.assert_allclose(big_c[1:14, 2:39], a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)
    mask = np.ones_like(big_c, bool)
    mask[1:14, 2:39] = False
    np.testing.assert_array_equal(big_c[mask], before[mask])


def test_gemm_rejects_mixed_dtypes_and_non_flat_arrays():
    a = np.ones(4, np.float32)
    with pytest.raises(TypeError, match="different dtypes"):
        gemm(a, 0, 2, 1, 2, np.ones(4), 0, 2, 2, np.ones(4, np.float32), 0, 2, 2, False)
    with pytest.raises(Exception, match="(?i)typ"):
        gemm(a.reshape(2, 2), 0, 2, 1, 2, a, 0, 2, 2, a.copy(), 0, 2, 2, False)


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("m,k,n", [(3, 40, 37), (37, 40, 3), (7, 5, 9), (20, 33, 17), (1, 16, 64), (64, 16, 1)])
def test_matmul_all_transposes(parallel, ta, tb, m, k, n):
    """matmul / matmul_parallel against numpy for every transpose flag. With tb and a few
    rows (3x40 @ (37x40).T) the transposed product runs: out.T = b @ a.T, transposed back."""
    from nbflow.kernels.cpu import microgemm as G

    rng = np.random.RandomState(m * 100 + k * 10 + n)
    a = rng.randn(*((k, m) if ta else (m, k))).astype(np.float32)
    b = rng.randn(*((n, k) if tb else (k, n))).astype(np.float32)
    want = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b)
    out = np.full((m, n), np.nan, np.float32)
    scratch = np.full(b.size, np.nan, np.float32)
    fn = G.gemm_address(np.float32)
    if parallel:
        G.matmul_parallel(fn, a, b, out, ta, tb, scratch, 2)
    else:
        G.matmul(fn, a, b, out, ta, tb, scratch)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("nt", [2, 3, 5, 40])
@pytest.mark.parametrize("ta", [False, True])
def test_transposed_product_is_transposed_back_block_by_block(nt, ta):
    """A small batch times a big transposed weight (4x24 @ (77x24).T) runs as out.T = b @ a.T,
    split into nt row blocks of out.T and transposed back: every block, the ragged
    last one and empty ones (nt > tiles) included."""
    from nbflow.kernels.cpu import microgemm as G

    rng = np.random.RandomState(nt)
    a = rng.randn(*((24, 4) if ta else (4, 24))).astype(np.float64)
    b = rng.randn(77, 24).astype(np.float64)
    out = np.full((4, 77), np.nan)
    scratch = np.full(4 * 24 + 4 * 77, np.nan)
    G.matmul_parallel(G.gemm_address(np.float64), a, b, out, ta, True, scratch, nt)
    np.testing.assert_allclose(out, (a.T if ta else a) @ b.T, rtol=1e-12, atol=1e-12)
