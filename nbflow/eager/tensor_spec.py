"""tf.TensorSpec: the dtype and (partially known) shape of a tensor argument."""
from nbflow.framework import dtypes
from nbflow.framework.tensor_shape import TensorShape


class TensorSpec:
    """Describes a tensor: ``tf.TensorSpec(shape, dtype=tf.float32, name=None)``."""

    __slots__ = ("_shape", "_dtype", "_name", "_dims")

    def __init__(self, shape, dtype=dtypes.float32, name=None):
        self._shape = TensorShape(shape)
        self._dtype = dtypes.as_dtype(dtype)
        self._name = name
        self._dims = self._shape.as_tuple()

    @classmethod
    def from_tensor(cls, tensor, name=None):
        return cls(tensor.shape, tensor.dtype, name)

    @property
    def shape(self):
        return self._shape

    @property
    def dtype(self):
        return self._dtype

    @property
    def name(self):
        return self._name

    def is_compatible_with(self, spec_or_tensor):
        """Same dtype, and a shape compatible with this one's."""
        return self._dtype is spec_or_tensor.dtype and self._shape.is_compatible_with(spec_or_tensor.shape)

    def _matches(self, np_dtype, shape):
        """The fast check of a call's argument (numpy dtype, shape tuple)."""
        if np_dtype != self._dtype.as_numpy_dtype:
            return False
        dims = self._dims
        if dims is None:
            return True
        if len(dims) != len(shape):
            return False
        for d, s in zip(dims, shape):
            if d is not None and d != s:
                return False
        return True

    def __eq__(self, other):
        return type(other) is TensorSpec and self._dtype is other._dtype and self._dims == other._dims \
            and self._name == other._name

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash((self._dtype, self._dims, self._name))

    def __repr__(self):
        dims = self._dims
        if dims is None:
            shape = "<unknown>"
        else:
            shape = "(%s)" % "".join("%s, " % d for d in dims)[:-2] if len(dims) != 1 else "(%s,)" % dims[0]
        return "TensorSpec(shape=%s, dtype=%r, name=%r)" % (shape, self._dtype, self._name)
