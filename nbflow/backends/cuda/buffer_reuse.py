"""Which GPU kernels write their outputs into buffers of their own.

The memory plan lets an output take a dead value's buffer only when the op's
outputs cannot be views of its inputs; ``op_def.outputs_alias_inputs`` says so
for the op in general and is true by default (conservative: on the CPU many
kernels return views). On the GPU most kernels write a buffer of their own: the
kernel factories listed here were checked to never hand out an input or a view
of one (Identity, Reshape, the variable ops and the Apply* updates do, and are
not listed). A kernel added later is treated as "may alias" until listed.
"""
import importlib

from nbflow.backends import registry

#: module of nbflow/backends/cuda -> its factories whose outputs are buffers of their own
NEW_BUFFER_FACTORIES = {
    "elementwise": ("elementwise_kernel",),
    "linalg": ("matmul_kernel", "batch_matmul_kernel"),
    "reduction": ("reduction_kernel", "bias_add_grad_kernel", "arg_reduction_kernel", "scan_kernel",
                  "l2_loss_kernel"),
    "nn": ("softmax_kernel", "softmax_xent_kernel", "sparse_softmax_xent_kernel"),
    "conv": ("conv2d_kernel", "conv2d_backprop_input_kernel", "conv2d_backprop_filter_kernel", "max_pool_kernel",
             "avg_pool_kernel", "max_pool_grad_kernel", "avg_pool_grad_kernel"),
    "array_gather": ("gather_kernel", "unsorted_segment_sum_kernel", "one_hot_kernel"),
    "array_fill": ("fill_kernel", "zeros_like_kernel", "broadcast_to_kernel"),
    "array_layout": ("layout_kernel",),
    "array": ("snapshot_kernel",),
    "random": ("random_kernel",),
}

_factories = []


def _known():
    if not _factories:
        found = set()
        for module, names in NEW_BUFFER_FACTORIES.items():
            mod = importlib.import_module("nbflow.backends.cuda." + module)
            found.update(getattr(mod, n) for n in names)
        _factories.append(frozenset(found))
    return _factories[0]


def writes_new_buffers(op):
    """The GPU kernel bound for ``op`` never returns (a view of) one of its inputs."""
    return registry.kernel_factory(op.op_def, "GPU") in _known()
