"""TensorFlow-style DType objects over numpy dtypes."""
import numpy as np


class DType:
    """A tensor element type, printed and compared as TensorFlow does."""

    __slots__ = ("name", "_np")

    def __init__(self, name, np_dtype):
        self.name = name
        self._np = np.dtype(np_dtype) if np_dtype is not None else None

    @property
    def as_numpy_dtype(self):
        return self._np.type

    @property
    def base_dtype(self):
        return self

    @property
    def is_floating(self):
        return self._np is not None and self._np.kind == "f"

    @property
    def is_integer(self):
        return self._np is not None and self._np.kind in "iu"

    @property
    def is_unsigned(self):
        return self._np is not None and self._np.kind == "u"

    @property
    def is_bool(self):
        return self is bool_

    @property
    def is_numeric(self):
        return self.is_floating or self.is_integer

    @property
    def size(self):
        return self._np.itemsize

    @property
    def min(self):
        return np.finfo(self._np).min if self.is_floating else np.iinfo(self._np).min

    @property
    def max(self):
        return np.finfo(self._np).max if self.is_floating else np.iinfo(self._np).max

    def is_compatible_with(self, other):
        return as_dtype(other) is self

    def __repr__(self):
        return "tf." + self.name

    def __eq__(self, other):
        if other is None:
            return False
        try:
            return as_dtype(other) is self
        except TypeError:
            return False

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(self.name)

    def __reduce__(self):
        return as_dtype, (self.name,)


float16 = DType("float16", np.float16)
half = float16
float32 = DType("float32", np.float32)
float64 = DType("float64", np.float64)
double = float64
int8 = DType("int8", np.int8)
int16 = DType("int16", np.int16)
int32 = DType("int32", np.int32)
int64 = DType("int64", np.int64)
uint8 = DType("uint8", np.uint8)
uint16 = DType("uint16", np.uint16)
bool_ = DType("bool", np.bool_)
string = DType("string", np.object_)

_ALL = [float16, float32, float64, int8, int16, int32, int64, uint8, uint16, bool_, string]
_BY_NAME = {d.name: d for d in _ALL}
# TF 1.15's non-canonical names (its dtypes.py _STRING_TO_TF): tutorials write
# ``tf.placeholder("float", ...)``.
_BY_NAME.update({"half": float16, "float": float32, "double": float64})
_BY_NP = {d._np: d for d in _ALL if d is not string}
# TF dtypes nbflow has no kernels for: named in the error instead of "cannot convert".
_NOT_SUPPORTED = ("uint32", "uint64", "complex64", "complex128", "bfloat16", "qint8", "quint8", "qint16",
                  "quint16", "qint32", "resource", "variant")
_NOT_SUPPORTED_NP = {np.dtype(n): n for n in ("uint32", "uint64", "complex64", "complex128")}


def _unsupported(type_value, tf_name):
    return TypeError("Cannot convert value %r to a TensorFlow DType: nbflow does not support tf.%s"
                     % (type_value, tf_name))


def _unknown_name(name):
    base = name[:-4] if name.endswith("_ref") else name
    if base in _BY_NAME or base in _NOT_SUPPORTED:
        # TF's reference dtypes (float32_ref, ...) belong to ref variables, which nbflow does not have.
        return _unsupported(name, name)
    return TypeError("Cannot convert value %r to a TensorFlow DType." % (name,))


def as_dtype(type_value):
    """Convert a DType, a name (canonical or TF's aliases "float", "double",
    "half"), a numpy type or dtype, or a Python type to a DType."""
    if isinstance(type_value, DType):
        return type_value
    if isinstance(type_value, str):
        d = _BY_NAME.get(type_value)
        if d is None:
            raise _unknown_name(type_value)
        return d
    if type_value is bool:
        return bool_
    if type_value is int:
        return int32
    if type_value is float:
        return float32
    if type_value in (bytes, np.bytes_, np.str_):
        return string
    try:
        npd = np.dtype(type_value)
    except TypeError:
        raise TypeError("Cannot convert value %r to a TensorFlow DType." % (type_value,)) from None
    if npd in _BY_NP:
        return _BY_NP[npd]
    if npd.kind in "OSU":
        return string
    if npd in _NOT_SUPPORTED_NP:
        raise _unsupported(type_value, _NOT_SUPPORTED_NP[npd])
    raise TypeError("Cannot convert value %r to a TensorFlow DType." % (type_value,))


def result_dtype(a, b):
    """TF has no implicit promotion: both operands must share one dtype."""
    return a if a is b else None
