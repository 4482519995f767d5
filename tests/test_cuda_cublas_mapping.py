"""cuBLAS through nvmath-python without a GPU: the row-major -> column-major argument mapping
(kernels/cuda/cublas.py), the choice between cuBLAS and the tiled kernel and the handles
(backends/cuda/blas.py), and the MatMul / BatchMatMulV2 GPU factories' cuBLAS path
(backends/cuda/linalg.py) -- all against ``FakeCublas``, a column-major BLAS over raw host
pointers that reads and writes memory exactly as cuBLAS reads device memory. Needs
numba-cuda (the GPU factories import numba.cuda); no GPU, no nvmath."""
import ctypes
import itertools

import numpy as np
import pytest

pytest.importorskip("numba_cuda", reason="numba-cuda is not installed (the optional nbflow[cuda] extra)")

from nbflow.backends.cuda import blas  # noqa: E402
from nbflow.framework.tensor_shape import TensorShape  # noqa: E402
from nbflow.kernels.cuda import cublas as CB  # noqa: E402


def host_pointer(a):
    return a.__array_interface__["data"][0]


def _col_major(ptr, rows, cols, ld, dtype):
    """The column-major matrix (rows x cols, leading dimension ld) at address ``ptr``."""
    dtype = np.dtype(dtype)
    count = (cols - 1) * ld + rows if rows and cols else 0
    buf = (ctypes.c_char * (count * dtype.itemsize)).from_address(ptr) if count else bytearray()
    flat = np.frombuffer(buf, dtype=dtype, count=count)
    return np.lib.stride_tricks.as_strided(flat, (rows, cols), (dtype.itemsize, ld * dtype.itemsize),
                                           writeable=True) if count else np.empty((rows, cols), dtype)


class FakeCublas:
    """nvmath.bindings.cublas's calls nbflow makes, computed column-major on host memory."""

    def __init__(self):
        self.calls, self.handles, self.streams = [], 0, {}

    def create(self):
        self.handles += 1
        return 1000 + self.handles

    def set_stream(self, handle, stream):
        self.streams[handle] = stream

    def _gemm(self, dtype, handle, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        assert lda >= max(1, m if transa == CB.OP_N else k) and ldb >= max(1, k if transb == CB.OP_N else n)
        assert ldc >= max(1, m)
        al = np.frombuffer((ctypes.c_char * np.dtype(dtype).itemsize).from_address(alpha), dtype)[0]
        be = np.frombuffer((ctypes.c_char * np.dtype(dtype).itemsize).from_address(beta), dtype)[0]
        opa = _col_major(a, m, k, lda, dtype) if transa == CB.OP_N else _col_major(a, k, m, lda, dtype).T
        opb = _col_major(b, k, n, ldb, dtype) if transb == CB.OP_N else _col_major(b, n, k, ldb, dtype).T
        out = _col_major(c, m, n, ldc, dtype)
        out[...] = al * (opa @ opb) + (be * out if be else 0)

    def sgemm(self, *args):
        self.calls.append(("sgemm",) + args)
        self._gemm(np.float32, *args)

    def dgemm(self, *args):
        self.calls.append(("dgemm",) + args)
        self._gemm(np.float64, *args)

    def _batched(self, dtype, handle, transa, transb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, count):
        size = np.dtype(dtype).itemsize
        for z in range(count):
            self._gemm(dtype, handle, transa, transb, m, n, k, alpha, a + z * sa * size, lda, b + z * sb * size, ldb,
                       beta, c + z * sc * size, ldc)

    def sgemm_strided_batched(self, *args):
        self.calls.append(("sgemm_strided_batched",) + args)
        self._batched(np.float32, *args)

    def dgemm_strided_batched(self, *args):
        self.calls.append(("dgemm_strided_batched",) + args)
        self._batched(np.float64, *args)


def _op(x, t):
    return x.T if t else x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta,tb", list(itertools.product([False, True], repeat=2)))
@pytest.mark.parametrize("m,n,k", [(3, 4, 5), (1, 1, 1), (1, 6, 2), (7, 1, 3)])
def test_a_row_major_product_through_column_major_gemm(dtype, ta, tb, m, n, k):
    rng = np.random.RandomState(m * 100 + n * 10 + k)
    a = rng.randn(*((k, m) if ta else (m, k))).astype(dtype)
    b = rng.randn(*((n, k) if tb else (k, n))).astype(dtype)
    c = np.full((m, n), np.nan, dtype)
    fake = FakeCublas()
    CB.Gemm(fake, dtype, lambda: 7, pointer=host_pointer).run(a, b, c, CB.gemm_args(a.shape, b.shape, ta, tb))
    np.testing.assert_allclose(c, _op(a, ta) @ _op(b, tb), rtol=1e-5 if dtype == np.float32 else 1e-12)
    (name, handle, *_), = fake.calls
    assert name == ("sgemm" if dtype == np.float32 else "dgemm") and handle == 7


def test_the_mapping_swaps_the_operands_and_reads_leading_dimensions_from_the_stored_rows():
    # C[3, 4] = A[3, 5] @ B[5, 4]  ->  C^T[4, 3] = B^T A^T: m'=4, n'=3, k'=5, lda = 4, ldb = 5, ldc = 4
    assert CB.gemm_args((3, 5), (5, 4), False, False) == (CB.OP_N, CB.OP_N, 4, 3, 5, 4, 5, 4)
    # A stored [5, 3] transposed, B stored [4, 5] transposed
    assert CB.gemm_args((5, 3), (4, 5), True, True) == (CB.OP_T, CB.OP_T, 4, 3, 5, 5, 3, 4)
    assert CB.gemm_args((3, 5), (4, 5), False, True) == (CB.OP_T, CB.OP_N, 4, 3, 5, 5, 5, 4)
    assert CB.gemm_args((5, 3), (5, 4), True, False) == (CB.OP_N, CB.OP_T, 4, 3, 5, 4, 3, 4)
    a, b = np.ones((3, 5), np.float32), np.ones((5, 4), np.float32)
    fake = FakeCublas()
    CB.Gemm(fake, np.float32, lambda: 1, pointer=host_pointer).run(a, b, np.empty((3, 4), np.float32),
                                                                  CB.gemm_args(a.shape, b.shape, False, False))
    call = fake.calls[0]
    assert call[8] == host_pointer(b) and call[10] == host_pointer(a)  # A' is B's buffer, B' is A's
    with pytest.raises(ValueError, match="Matrix size-incompatible"):
        CB.gemm_args((3, 5), (4, 4), False, False)
    with pytest.raises(TypeError, match="float32 and float64"):
        CB.Gemm(fake, np.int32, lambda: 1)


@pytest.mark.parametrize("xs,ys", [((2, 3, 5), (2, 5, 4)), ((3, 5), (2, 5, 4)), ((2, 2, 3, 5), (5, 4)),
                                   ((1, 3, 5), (2, 5, 4)), ((2, 1, 3, 5), (1, 1, 5, 4))])
@pytest.mark.parametrize("adj_x,adj_y", [(False, False), (True, True), (False, True)])
def test_strided_batched_products_with_broadcast_batches(xs, ys, adj_x, adj_y):
    rng = np.random.RandomState(len(xs) + len(ys))
    x = rng.randn(*(xs[:-2] + (xs[-1], xs[-2]) if adj_x else xs)).astype(np.float64)
    y = rng.randn(*(ys[:-2] + (ys[-1], ys[-2]) if adj_y else ys)).astype(np.float64)
    want = np.matmul(np.swapaxes(x, -1, -2) if adj_x else x, np.swapaxes(y, -1, -2) if adj_y else y)
    batch = want.shape[:-2]
    m, n = want.shape[-2:]
    k = xs[-1]
    strides = CB.batch_strides(x.shape[:-2], y.shape[:-2], batch, m * k, k * n, m * n)
    assert strides is not None
    out = np.full(want.shape, np.nan)
    fake = FakeCublas()
    CB.Gemm(fake, np.float64, lambda: 1, pointer=host_pointer).run_batched(
        x, y, out, CB.gemm_args(x.shape[-2:], y.shape[-2:], adj_x, adj_y), strides, int(np.prod(batch)))
    np.testing.assert_allclose(out, want, rtol=1e-12)


def test_a_broadcast_that_is_not_a_stride_is_left_to_the_tiled_kernel():
    assert CB.batch_strides((2, 1), (1, 3), (2, 3), 6, 6, 4) is None
    assert CB.batch_strides((3,), (2, 3), (2, 3), 6, 6, 4) is None
    assert CB.batch_strides((), (2, 3), (2, 3), 6, 6, 4) == (6, 0, 4)


# -- the choice ------------------------------------------------------------------------------------

class FakeDevice:
    def __init__(self, index=0, simulator=False, stream=0):
        self.index, self.simulator = index, simulator
        self.stream = type("Stream", (), {"handle": stream})()

    @staticmethod
    def empty(shape, dtype):
        return np.full(shape, np.nan, dtype)


@pytest.fixture
def choice(monkeypatch):
    """blas's switch and environment reset; ``set(available=...)`` stands in for nvmath's presence."""
    monkeypatch.delenv(blas.ENV, raising=False)
    monkeypatch.setattr(blas, "_switch", [None])

    class Choice:
        @staticmethod
        def available(flag):
            monkeypatch.setattr(blas, "available", lambda: flag)
    return Choice


def test_automatic_choice_is_cublas_when_nvmath_imports_on_a_real_gpu(choice):
    choice.available(True)
    assert blas.use_cublas(FakeDevice()) is True
    assert blas.use_cublas(FakeDevice(simulator=True)) is False  # simulator arrays are host memory
    choice.available(False)
    assert blas.use_cublas(FakeDevice()) is False


def test_the_environment_variable_and_the_python_switch(choice, monkeypatch):
    choice.available(True)
    monkeypatch.setenv(blas.ENV, "0")
    assert blas.use_cublas(FakeDevice()) is False
    blas.set_enabled(True)  # the switch wins over the variable
    assert blas.use_cublas(FakeDevice()) is True
    blas.set_enabled(None)
    assert blas.use_cublas(FakeDevice()) is False
    monkeypatch.setenv(blas.ENV, "yes")
    with pytest.raises(ValueError, match="NBFLOW_CUDA_BLAS must be 0 or 1"):
        blas.use_cublas(FakeDevice())
    with pytest.raises(ValueError, match="True, False or None"):
        blas.set_enabled("on")


def test_asking_for_cublas_where_it_cannot_run_is_an_error(choice, monkeypatch):
    choice.available(False)
    monkeypatch.setenv(blas.ENV, "1")
    with pytest.raises(RuntimeError, match=r"nvmath-python is not installed \(pip install 'nbflow\[cuda-blas\]'\)"):
        blas.use_cublas(FakeDevice())
    choice.available(True)
    with pytest.raises(RuntimeError, match="simulator"):
        blas.use_cublas(FakeDevice(simulator=True))
    blas.set_enabled(False)
    assert blas.use_cublas(FakeDevice(simulator=True)) is False


def test_one_handle_per_device_and_stream(monkeypatch):
    monkeypatch.setattr(blas, "_handles", {})
    fake = FakeCublas()
    gpu0, gpu0_other_stream, gpu1 = FakeDevice(0, stream=0), FakeDevice(0, stream=4096), FakeDevice(1, stream=0)
    h = blas.DeviceHandle(gpu0, fake)()
    assert blas.DeviceHandle(gpu0, fake)() == h == blas.DeviceHandle(FakeDevice(0, stream=0), fake)()
    assert blas.DeviceHandle(gpu0_other_stream, fake)() != h
    assert blas.DeviceHandle(gpu1, fake)() not in (h,)
    assert fake.handles == 3 and sorted(fake.streams.values()) == [0, 0, 4096]


# -- the GPU factories' cuBLAS path ----------------------------------------------------------------

class FakeContext:
    def __init__(self, op_def, shapes, attrs, dtype, fresh=True):
        self.op_def, self.attrs, self.fresh_outputs = op_def, attrs, fresh
        self.input_shapes = [TensorShape(s) for s in shapes]
        self._dtype = np.dtype(dtype)
        self.device = FakeDevice()
        self.name = "op"

    def out_np_dtype(self, i):
        return self._dtype

    def op_error(self, cls, message):
        return cls(None, None, message)


@pytest.fixture
def on_fake_cublas(choice, monkeypatch):
    from nbflow.kernels.cuda import cublas as kernel_module
    choice.available(True)
    fake = FakeCublas()
    monkeypatch.setattr(blas, "bindings", lambda: fake)
    monkeypatch.setattr(blas, "_handles", {})
    monkeypatch.setattr(blas.DeviceHandle, "__call__", lambda self: 42)
    monkeypatch.setattr(kernel_module, "device_pointer", host_pointer)
    return fake


@pytest.mark.parametrize("ta,tb", list(itertools.product([False, True], repeat=2)))
@pytest.mark.parametrize("fresh", [True, False])
def test_matmul_factory_calls_cublas_for_every_transpose(on_fake_cublas, ta, tb, fresh):
    from nbflow.backends.cuda.linalg import matmul_kernel
    from nbflow.ops import linalg_ops
    a = np.random.RandomState(1).randn(*((5, 3) if ta else (3, 5))).astype(np.float32)
    b = np.random.RandomState(2).randn(*((4, 5) if tb else (5, 4))).astype(np.float32)
    run = matmul_kernel(FakeContext(linalg_ops.MatMul, [a.shape, b.shape],
                                    {"transpose_a": ta, "transpose_b": tb}, np.float32, fresh))
    c = run(a, b)
    np.testing.assert_allclose(c, _op(a, ta) @ _op(b, tb), rtol=1e-5)
    assert [call[0] for call in on_fake_cublas.calls] == ["sgemm"] and on_fake_cublas.calls[0][1] == 42
    with pytest.raises(Exception, match="not C-contiguous"):
        run(np.asfortranarray(a) if min(a.shape) > 1 else a[:, ::-1], b)


def test_batch_matmul_factory_uses_strided_batches_and_the_tiled_kernel_for_the_rest(on_fake_cublas):
    from nbflow.backends.cuda import linalg
    from nbflow.ops import linalg_ops
    ctx = FakeContext(linalg_ops.BatchMatMulV2, [(None, 3, 5), (None, 5, 4)], {"adj_x": False, "adj_y": True},
                      np.float64)
    run = linalg.batch_matmul_kernel(ctx)
    x, y = np.random.RandomState(3).randn(2, 3, 5), np.random.RandomState(4).randn(2, 4, 5)
    np.testing.assert_allclose(run(x, y), x @ np.swapaxes(y, -1, -2), rtol=1e-12)
    assert [call[0] for call in on_fake_cublas.calls] == ["dgemm_strided_batched"]
    tiled = []
    kernel = linalg.K.get_kernel(np.float64, batched=True)
    with pytest.MonkeyPatch.context() as mp:  # [2, 1] against [1, 3]: no stride -> the tiled kernel's launch
        mp.setattr(type(kernel), "__getitem__", lambda self, config: lambda *args: tiled.append(config))
        mp.setattr(linalg.K, "get_kernel", lambda dtype, batched=False: kernel)
        ctx2 = FakeContext(linalg_ops.BatchMatMulV2, [(2, 1, 3, 5), (1, 3, 4, 5)], {"adj_x": False, "adj_y": True},
                           np.float64)
        ctx2.device.from_host = lambda a: a
        linalg.batch_matmul_kernel(ctx2)(np.ones((2, 1, 3, 5)), np.ones((1, 3, 4, 5)))
    assert len(tiled) == 1 and len(on_fake_cublas.calls) == 1
