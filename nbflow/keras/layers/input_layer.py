"""``InputLayer``: the layer behind a model's input. Called on a tensor it is the
identity; it records ``_batch_input_shape`` and dtype for the functional API
(``tf.keras.Input`` and models come with the models work, through the
``_call_symbolic`` hook of base_layer)."""
from nbflow.framework import dtypes
from nbflow.framework.tensor_shape import TensorShape
from nbflow.keras import backend
from nbflow.keras.layers.base_layer import Layer

__all__ = ["InputLayer"]


class InputLayer(Layer):
    def __init__(self, input_shape=None, batch_size=None, dtype=None, input_tensor=None, sparse=False, name=None,
                 ragged=False, batch_input_shape=None, **kwargs):
        if sparse or ragged:
            raise NotImplementedError("InputLayer: sparse and ragged inputs are not supported by nbflow")
        if name is None:
            name = backend.unique_object_name("input", zero_based=False)
        if batch_input_shape is None and input_shape is not None:
            batch_input_shape = (batch_size,) + tuple(input_shape)
        super().__init__(name=name, dtype=dtype or backend.floatx(), **kwargs)
        self._batch_input_shape = None if batch_input_shape is None else tuple(batch_input_shape)
        self.input_tensor = input_tensor
        self.is_placeholder = input_tensor is None
        self.built = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return TensorShape(input_shape)

    def get_config(self):
        return {"batch_input_shape": self._batch_input_shape, "dtype": dtypes.as_dtype(self.dtype).name,
                "sparse": False, "ragged": False, "name": self.name}
