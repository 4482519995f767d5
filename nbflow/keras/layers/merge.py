"""Merge layers: ``Add``, ``Multiply``, ``Concatenate`` (a list of inputs in, one tensor out)."""
from nbflow.framework.tensor_shape import TensorShape
from nbflow.keras.layers.base_layer import Layer
from nbflow.ops import array_ops as A

__all__ = ["Add", "Multiply", "Concatenate"]


def _broadcast_dims(a, b):
    """Static broadcast of two shape tuples (None where unknown), as Keras' merge layers."""
    if a is None or b is None:
        return None
    if len(a) < len(b):
        a, b = b, a
    b = (1,) * (len(a) - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x is None or y is None:
            out.append(None if (x, y) not in ((1, None), (None, 1)) else None)
        elif x == 1:
            out.append(y)
        elif y == 1 or x == y:
            out.append(x)
        else:
            raise ValueError("Operands could not be broadcast together with shapes %s %s" % (a, b))
    return tuple(out)


class _Merge(Layer):
    def _check_list(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError("A merge layer should be called on a list of inputs.")
        if len(inputs) < 2:
            raise ValueError("A merge layer should be called on a list of at least 2 inputs. Got %d inputs."
                             % len(inputs))

    def build(self, input_shape):
        self._check_list(input_shape)
        self.compute_output_shape(input_shape)  # raises on incompatible shapes
        self.built = True

    def _merge(self, inputs):
        raise NotImplementedError

    def call(self, inputs):
        self._check_list(inputs)
        return self._merge(list(inputs))

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        dims = TensorShape(input_shape[0]).as_tuple()
        for shape in input_shape[1:]:
            dims = _broadcast_dims(dims, TensorShape(shape).as_tuple())
        return TensorShape(dims)


class Add(_Merge):
    """The element-wise sum of the inputs (broadcasting)."""

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out


class Multiply(_Merge):
    """The element-wise product of the inputs (broadcasting)."""

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = out * x
        return out


class Concatenate(_Merge):
    """The inputs concatenated along ``axis`` (other dimensions must match)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def _merge(self, inputs):
        return A.concat(inputs, axis=self.axis)

    def compute_output_shape(self, input_shape):
        self._check_list(input_shape)
        shapes = [TensorShape(s).as_tuple() for s in input_shape]
        if any(s is None for s in shapes):
            return TensorShape(None)
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes):
            raise ValueError("A `Concatenate` layer requires inputs with matching shapes except for the concat "
                             "axis. Got inputs shapes: %s" % (shapes,))
        axis = self.axis % rank
        out = list(shapes[0])
        for s in shapes[1:]:
            for i in range(rank):
                if i == axis:
                    out[i] = None if out[i] is None or s[i] is None else out[i] + s[i]
                elif out[i] is None:
                    out[i] = s[i]
                elif s[i] is not None and s[i] != out[i]:
                    raise ValueError("A `Concatenate` layer requires inputs with matching shapes except for the "
                                     "concat axis. Got inputs shapes: %s" % (shapes,))
        return TensorShape(out)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config
