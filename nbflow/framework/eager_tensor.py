"""EagerTensor: a Tensor whose value is already computed (TF 2's ``tf.Tensor`` in eager mode).

It holds an immutable numpy array (or, on a GPU, a device array) and prints,
converts and compares as TF 2's eager tensors do. Ops on it run at once
through ``apply_op`` (nbflow/ops/base.py) and the eager executor
(nbflow/runtime/eager.py): the same Op classes and kernels as graph mode.
"""
import numpy as np

from nbflow.framework import context, dtypes
from nbflow.framework.graph import Tensor
from nbflow.framework.tensor_shape import TensorShape

HOST_DEVICE = "/job:localhost/replica:0/task:0/device:CPU:0"

_DTYPE_OF = {}


def dtype_of(np_dtype):
    """The DType of a numpy dtype (memoized: this is on every eager op's path)."""
    d = _DTYPE_OF.get(np_dtype)
    if d is None:
        d = _DTYPE_OF[np_dtype] = dtypes.as_dtype(np_dtype)
    return d


def is_eager_variable(x):
    """An eager ``tf.Variable`` (nbflow/ops/eager_variables.py): its value is a resource
    behind a handle (``_eager_resource``), which the eager executor passes to ref inputs."""
    return getattr(x, "_eager_resource", None) is not None


def host_value(v):
    """A tensor's value as a numpy array: a device array (a tensor on a GPU) is copied back."""
    if type(v) is np.ndarray or not hasattr(v, "copy_to_host"):
        return v
    return v.copy_to_host()


def _numpy_text(value, is_repr):
    if value.ndim == 0:
        text = str(value[()])  # a bare scalar (numpy 2's repr would say np.int32(8))
    else:
        text = repr(value) if is_repr else str(value)
    if "\n" in text:
        text = "\n" + text
    return text


class EagerTensor(Tensor):
    """A computed tensor: ``.numpy()``, ``.shape``, ``.dtype``, ``.device``."""

    __slots__ = ("_value", "_device_name")
    _is_eager = True

    def __init__(self, value, device=HOST_DEVICE):
        self._value = value
        self._dtype = dtype_of(value.dtype)
        self._shape = None
        self._device_name = device

    # -- what a graph tensor has, and an eager one does not ------------------------
    @property
    def op(self):
        raise AttributeError("Tensor.op is meaningless when eager execution is enabled.")

    @property
    def graph(self):
        raise AttributeError("Tensor.graph is meaningless when eager execution is enabled.")

    @property
    def name(self):
        raise AttributeError("Tensor.name is meaningless when eager execution is enabled.")

    @property
    def value_index(self):
        raise AttributeError("Tensor.value_index is meaningless when eager execution is enabled.")

    def consumers(self):
        raise AttributeError("Tensor.consumers is meaningless when eager execution is enabled.")

    def eval(self, feed_dict=None, session=None):
        raise NotImplementedError("eval is not supported when eager execution is enabled, is .numpy() what "
                                  "you're looking for?")

    def set_shape(self, shape):
        if not self.shape.is_compatible_with(shape):
            raise ValueError("Tensor's shape %s is not compatible with supplied shape %s"
                             % (self.shape, TensorShape(shape)))

    # -- value -----------------------------------------------------------------------
    @property
    def shape(self):
        s = self._shape
        if s is None:
            s = self._shape = TensorShape.from_known(self._value.shape)
        return s

    def get_shape(self):
        return self.shape

    @property
    def ndim(self):
        return self._value.ndim

    @property
    def device(self):
        return self._device_name

    @property
    def backing_device(self):
        return self._device_name

    def numpy(self):
        """The value as a numpy array (a numpy scalar for a 0-d tensor, as TF)."""
        v = host_value(self._value)
        return v[()] if v.ndim == 0 else v

    def _host_value(self):
        """The value as a numpy array (copied back from a GPU)."""
        return host_value(self._value)

    def __array__(self, dtype=None, copy=None):
        v = host_value(self._value)
        if dtype is not None and v.dtype != dtype:
            return v.astype(dtype)
        return v.copy() if copy else v

    # -- printing (TF 2's forms) -----------------------------------------------------------
    def __str__(self):
        return "tf.Tensor(%s, shape=%s, dtype=%s)" % (_numpy_text(host_value(self._value), False), self.shape,
                                                      self._dtype.name)

    def __repr__(self):
        return "<tf.Tensor: shape=%s, dtype=%s, numpy=%s>" % (self.shape, self._dtype.name,
                                                              _numpy_text(host_value(self._value), True))

    def __format__(self, format_spec):
        if self._value.ndim == 0:
            return format(self.numpy(), format_spec)
        return format(str(self), format_spec)

    # -- Python conversions ---------------------------------------------------------------
    def __bool__(self):
        return bool(host_value(self._value))

    def __int__(self):
        return int(host_value(self._value))

    def __float__(self):
        return float(host_value(self._value))

    def __index__(self):
        if not self._dtype.is_integer:
            raise TypeError("Only integer tensors can be used as an index, got dtype %s" % self._dtype.name)
        return int(host_value(self._value))

    def __complex__(self):
        return complex(host_value(self._value))

    def __len__(self):
        if self._value.ndim == 0:
            raise TypeError("Scalar tensor has no `len()`")
        return self._value.shape[0]

    def __iter__(self):
        if self._value.ndim == 0:
            raise TypeError("Cannot iterate over a scalar tensor.")
        for i in range(self._value.shape[0]):
            yield self[i]

    # -- equality: identity in TF 1.x; element-wise with TF 2's tensor equality ---------------
    def __eq__(self, other):
        if context.tensor_equality_enabled():
            return _equality_hook[0](self, other, False)
        return self is other

    def __ne__(self, other):
        if context.tensor_equality_enabled():
            return _equality_hook[0](self, other, True)
        return self is not other

    def __hash__(self):
        if context.tensor_equality_enabled():
            raise TypeError("Tensor is unhashable. Instead, use tensor.ref() as the key.")
        return id(self)

    def ref(self):
        """A hashable reference to this tensor (``tensor.ref().deref() is tensor``)."""
        return TensorRef(self)

    experimental_ref = ref

    def cpu(self):
        """This tensor's value on the host (a copy when it lives on a GPU)."""
        v = self._value
        if type(v) is np.ndarray:
            return self
        return EagerTensor(host_value(v))

    def _rank(self):
        return self._value.ndim


class TensorRef:
    """``tensor.ref()``: hashes and compares by the tensor's identity."""

    __slots__ = ("_tensor",)

    def __init__(self, tensor):
        self._tensor = tensor

    def deref(self):
        return self._tensor

    def __hash__(self):
        return id(self._tensor)

    def __eq__(self, other):
        return isinstance(other, TensorRef) and other._tensor is self._tensor

    def __repr__(self):
        return "<Reference wrapping %r>" % (self._tensor,)


#: ``(a, b, negate) -> tensor``: tf.equal/not_equal with TF 2's fallbacks (installed by ops/operators.py)
_equality_hook = [None]
