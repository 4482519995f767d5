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
_BY_NP = {d._np: d for d in _ALL if d is not string}


def as_dtype(type_value):
    """Convert a DType, name, numpy dtype or Python type to a DType."""
    if isinstance(type_value, DType):
        return type_value
    if isinstance(type_value, str):
        if type_value in _BY_NAME:
            return _BY_NAME[type_value]
        raise TypeError("Cannot convert value %r to a TensorFlow DType." % (type_value,))
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
    raise TypeError("Cannot convert value %r to a TensorFlow DType." % (type_value,))


def result_dtype(a, b):
    """TF has no implicit promotion: both operands must share one dtype."""
    return a if a is b else None
