"""Which op types have a GPU kernel: the gap is listed here, so it is visible and cannot grow silently.

Every registered op type either has a GPU kernel (nbflow/backends/cuda/), or is
listed below: ``HOST_ONLY`` (stays on the CPU by design, with the reason;
placement copies its inputs and outputs across) or ``NOT_YET`` (a GPU kernel
is still to be written: issue #12). A new op type without a GPU kernel fails
until it is listed; an op type that gains one fails until it is struck off.
The listing is per op type: dtype gaps of a kernel (float16, integer
reductions) are its ``accepts`` (placement keeps those ops on the host).
Needs numba-cuda (the kernels are registered, no GPU is used).
"""
import pytest

pytest.importorskip("numba_cuda", reason="numba-cuda is not installed (the optional nbflow[cuda] extra)")

from nbflow.backends import registry  # noqa: E402
from nbflow.backends.cuda import register_kernels  # noqa: E402
from nbflow.backends.cuda import elementwise as gpu_elementwise  # noqa: E402
from nbflow.ops.base import registered_op_types  # noqa: E402
from nbflow.ops.elementwise import ElementwiseOp  # noqa: E402

_STRINGS = "strings and Python values: no device representation"
_QUEUE = "a host queue of arrays between Python threads; what is dequeued is copied to where it is used"
_DATA = "tf.data pipelines run Python functions on the host; their outputs are copied to the GPU"
_SUMMARY = "serializes Summary protobufs (strings) for the event files"
_MPI = "MPI moves host buffers (mpi4py over a non-CUDA-aware MPI); gradients are copied to the host and back"
_SAMPLER = "candidate samplers keep host-side state and draw with numpy, as TF runs them on the CPU"

HOST_ONLY = {
    "Print": _STRINGS, "PrintV2": _STRINGS, "StringFormat": _STRINGS, "DecodeCSV": _STRINGS,
    "ReportUninitializedVariables": _STRINGS + " (the names of variables)",
    "Assert": "formats its message with the data on the host, as TF's Assert (CPU only)",
    "FIFOQueueV2": _QUEUE, "QueueCloseV2": _QUEUE, "QueueDequeueManyV2": _QUEUE, "QueueDequeueV2": _QUEUE,
    "QueueEnqueueManyV2": _QUEUE, "QueueEnqueueV2": _QUEUE, "QueueSizeV2": _QUEUE,
    "ReaderReadV2": "file I/O", "TextLineReaderV2": "file I/O",
    "IteratorGetNext": _DATA, "IteratorV2": _DATA, "MakeIterator": _DATA, "OneShotIterator": _DATA,
    "AudioSummaryV2": _SUMMARY, "HistogramSummary": _SUMMARY, "ImageSummary": _SUMMARY, "MergeSummary": _SUMMARY,
    "ScalarSummary": _SUMMARY, "TensorSummaryV2": _SUMMARY, "WriteSummaryV2": _SUMMARY + " and writes them",
    "MpiAllreduce": _MPI, "MpiAllreduceBucket": _MPI,
    "MpiAllreduceStart": _MPI, "MpiAllreduceWait": _MPI, "MpiBroadcast": _MPI,
    "_PsSegment": _MPI + " (a request to a parameter-server task: it runs on that task's CPU)",
    "AllCandidateSampler": _SAMPLER, "FixedUnigramCandidateSampler": _SAMPLER,
    "LearnedUnigramCandidateSampler": _SAMPLER, "LogUniformCandidateSampler": _SAMPLER,
    "UniformCandidateSampler": _SAMPLER, "ComputeAccidentalHits": _SAMPLER,
}

#: GPU kernels still to write (issue #12), by family
NOT_YET = set()  # every op type with a kernel on the CPU has one on the GPU, or is HOST_ONLY


def _has_gpu_kernel(op_cls):
    factory = registry.kernel_factory(op_cls, "GPU")
    if factory is None:
        return False
    if issubclass(op_cls, ElementwiseOp) and factory is registry.kernel_factory(ElementwiseOp, "GPU"):
        # the generated element-wise kernel refuses ops with a CPU kernel of their own
        return gpu_elementwise.plain_expression(op_cls)
    return True


def _nbflow_op_types():
    """The registry's op types, less those other test modules define (``tests.*`` classes)."""
    return {t: c for t, c in registered_op_types().items() if c.__module__.startswith("nbflow.")}


@pytest.fixture(scope="module")
def without_gpu_kernel():
    register_kernels()
    return {t for t, c in _nbflow_op_types().items() if not _has_gpu_kernel(c)}


def test_the_lists_do_not_overlap():
    assert not set(HOST_ONLY) & NOT_YET
    assert all(reason for reason in HOST_ONLY.values())


def test_every_op_type_has_a_gpu_kernel_or_is_listed(without_gpu_kernel):
    unlisted = without_gpu_kernel - set(HOST_ONLY) - NOT_YET
    assert not unlisted, "op types without a GPU kernel, listed neither HOST_ONLY nor NOT_YET: %s" % sorted(unlisted)


def test_listed_op_types_really_lack_a_gpu_kernel(without_gpu_kernel):
    stale = (set(HOST_ONLY) | NOT_YET) - without_gpu_kernel
    assert not stale, "op types listed as without a GPU kernel that have one (or no longer exist): %s" % sorted(stale)


def test_most_op_types_run_on_the_gpu(without_gpu_kernel):
    """The share of op types with a GPU kernel, printed for the record (-s)."""
    total = len(_nbflow_op_types())
    print("GPU kernels: %d of %d op types; host-only %d; not yet %d"
          % (total - len(without_gpu_kernel), total, len(HOST_ONLY), len(NOT_YET)))
    assert total - len(without_gpu_kernel) > total // 2
