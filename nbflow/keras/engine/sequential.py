"""``tf.keras.Sequential``: a linear stack of layers, a functional model grown by ``add``.

When the input shape is known -- an ``Input``/``InputLayer`` added first, or the
first layer's ``input_shape``/``batch_input_shape`` -- each ``add`` calls the new
layer on the current output KerasTensor (building it) and re-derives the graph
network, as TF does. Otherwise the model stays unbuilt until ``build(shape)`` or
its first call, which builds the graph from the input's shape (batch dimension
None). ``layers`` leaves out the input layer; ``pop`` removes the last layer.
"""
from nbflow.framework.tensor_shape import TensorShape
from nbflow.keras import backend
from nbflow.keras.engine.functional import Functional
from nbflow.keras.engine.keras_tensor import KerasTensor, input_tensor_of
from nbflow.keras.engine.training import Model
from nbflow.keras.layers.base_layer import Layer
from nbflow.keras.layers.input_layer import InputLayer

__all__ = ["Sequential"]


class Sequential(Functional):
    def __init__(self, layers=None, name=None):
        Model.__init__(self, name=name or backend.unique_object_name("sequential"))
        self._input_layer = None
        self._chain = []        # the output KerasTensor after each layer (graph built)
        self._stack = []        # the layers added, in order
        self._layers = []
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self):
        return list(self._stack)

    def add(self, layer):
        if isinstance(layer, KerasTensor) and isinstance(layer._keras_history[0], InputLayer):
            layer = layer._keras_history[0]
        if not isinstance(layer, Layer):
            raise TypeError("The added layer must be an instance of class Layer. Received: layer=%r of type %s."
                            % (layer, type(layer)))
        if isinstance(layer, InputLayer):
            if self._stack or self._input_layer is not None:
                raise ValueError("An InputLayer can only be added first to a Sequential model")
            self._input_layer = layer
            self._layers = [layer]
            self._rebuild()
            return
        if any(layer is l for l in self._stack):
            raise ValueError("The layer %s is already in the model" % layer.name)
        self._stack.append(layer)
        self._layers = self._layers + [layer]
        if self._chain:
            self._chain.append(layer(self._chain[-1]))
            self._init_network()
        elif self._input_layer is None and len(self._stack) == 1 and layer._batch_input_shape is not None:
            self._input_layer = InputLayer(batch_input_shape=layer._batch_input_shape, dtype=layer.dtype,
                                           name=layer.name + "_input")
            self._rebuild()
        elif self._input_layer is not None:
            self._rebuild()
        self._reset_compiled()

    def pop(self):
        if not self._stack:
            raise TypeError("There are no layers in the model.")
        self._stack.pop()
        self._layers = ([self._input_layer] if self._input_layer is not None else []) + list(self._stack)
        if self._chain:
            self._chain.pop()
            if self._stack:
                self._init_network()
            else:
                self._is_graph_network = False
        self._reset_compiled()

    def _rebuild(self):
        """Call every layer on the input KerasTensor, in order."""
        x = input_tensor_of(self._input_layer)
        self._chain = [x]
        for layer in self._stack:
            x = layer(x)
            self._chain.append(x)
        if self._stack:
            self._init_network()

    def _init_network(self):
        stack, input_layer = list(self._stack), self._input_layer
        self._init_graph_network(self._chain[0], self._chain[-1])
        self._stack, self._input_layer = stack, input_layer
        self._layers = [input_layer] + stack

    def build(self, input_shape=None):
        if self._is_graph_network:
            self.built = True
            return
        if input_shape is None:
            raise ValueError("You must provide an `input_shape` argument.")
        shape = TensorShape(input_shape).as_list()
        self._input_layer = InputLayer(batch_input_shape=tuple([None] + shape[1:]), dtype=self._compute_dtype,
                                       name=(self._stack[0].name + "_input") if self._stack else None)
        self._layers = [self._input_layer] + list(self._stack)
        self._rebuild()
        self.built = True

    def call(self, inputs, training=None, mask=None):
        if self._is_graph_network and self._chain[0].shape.is_compatible_with(inputs.shape):
            return Functional.call(self, inputs, training=training, mask=mask)
        x = inputs
        for layer in self._stack:
            x = layer(x)
        return x

    def _symbolic_output_specs(self, inputs, args, kwargs):
        if not self._is_graph_network:
            self.build(inputs.shape)
        return Functional._symbolic_output_specs(self, inputs, args, kwargs)
