"""The kernel registry: (op type, device type) -> kernel factory.

A kernel factory takes a :class:`~nbflow.backends.context.KernelContext`
(concrete shapes, attrs, the device, an allocator) and returns the callable
the executor runs each step, ``run(*input_arrays) -> output(s)``.

Registration is by op class (or TF type name). A registration on a base class
covers every subclass that has none of its own: one element-wise registration
per device covers every ``ElementwiseOp`` through its scalar expression.
"""
from nbflow.ops.base import Op, op_class

_kernels = {}          # (op class, device type) -> factory
_accepts = {}          # (op class, device type) -> accepts(op) -> bool, for factories that take only some ops
_fused_binders = {}    # device type -> binder of fused element-wise groups
_fused_reductions = {}  # device type -> its binder also does full sums/means
_fresh_capable = set()  # (op class, device type) whose factory honours ``ctx.fresh_outputs``


def _as_op_class(op):
    if isinstance(op, str):
        return op_class(op)
    if isinstance(op, type) and issubclass(op, Op):
        return op
    raise TypeError("register_kernel expects an Op class or a registered op type name, got %r" % (op,))


def register_kernel(*ops, device="CPU", accepts=None, fresh_outputs=False):
    """Decorator: ``@register_kernel(MatMul, "BatchMatMul", device="CPU")``.

    ``accepts(op) -> bool``, when given, says which graph ops the factory can
    run (dtypes, attrs): placement treats the others as having no kernel on
    that device (the GPU's element-wise kernel takes no float16, no string).
    ``fresh_outputs=True`` promises that the kernel returns new arrays at every
    call (never a buffer it keeps, never a view of an input) when bound with
    ``ctx.fresh_outputs``: a plan then binds it so for a fetched output, which
    Session.run hands out without copying it."""
    device = device.upper()

    def deco(factory):
        for op in ops:
            key = (_as_op_class(op), device)
            if key in _kernels and _kernels[key] is not factory:
                raise KeyError("Two %s kernels registered for op %s" % (device, key[0].__name__))
            _kernels[key] = factory
            if accepts is not None:
                _accepts[key] = accepts
            if fresh_outputs:
                _fresh_capable.add(key)
        return factory
    return deco


def unregister_kernel(op, device="CPU"):
    _kernels.pop((_as_op_class(op), device.upper()), None)
    _accepts.pop((_as_op_class(op), device.upper()), None)
    _fresh_capable.discard((_as_op_class(op), device.upper()))


def makes_fresh_outputs(op_def, device_type):
    """Whether ``op_def``'s ``device_type`` kernel was registered with ``fresh_outputs=True``."""
    device_type = device_type.upper()
    for klass in op_def.__mro__:
        if (klass, device_type) in _kernels:
            return (klass, device_type) in _fresh_capable
        if klass is Op:
            break
    return False


def kernel_factory(op_def, device_type):
    """The factory running ``op_def`` on ``device_type``, or None."""
    device_type = device_type.upper()
    for klass in op_def.__mro__:
        factory = _kernels.get((klass, device_type))
        if factory is not None:
            return factory
        if klass is Op:
            break
    return None


def has_kernel(op_def, device_type, op=None):
    """Whether ``op_def`` has a ``device_type`` kernel (for the graph ``op``, when given)."""
    device_type = device_type.upper()
    for klass in op_def.__mro__:
        key = (klass, device_type)
        if key in _kernels:
            accepts = _accepts.get(key)
            return op is None or accepts is None or bool(accepts(op))
        if klass is Op:
            break
    return False


def device_types_with_kernel(op_def):
    """Device types that can run ``op_def``."""
    types = {dev for (_, dev) in _kernels}
    return sorted(d for d in types if kernel_factory(op_def, d) is not None)


def register_fused_binder(device_type, binder, reductions=True):
    """``binder(group, ...)`` builds one generated kernel for a fused element-wise group.
    ``reductions``: the binder also computes full sums/means of members in its loop."""
    _fused_binders[device_type.upper()] = binder
    _fused_reductions[device_type.upper()] = bool(reductions)


def fused_binder(device_type):
    return _fused_binders.get(device_type.upper())


def fuses_reductions(device_type):
    return _fused_reductions.get(device_type.upper(), False)
