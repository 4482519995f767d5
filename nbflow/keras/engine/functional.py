"""``Functional``: a model made from KerasTensors, ``tf.keras.Model(inputs, outputs)``.

The nodes between ``inputs`` and ``outputs`` are put in topological order once
(a depth-first walk back from the outputs: every node after the nodes it reads);
``call`` replays them on real tensors: each node's layer is called with its
recorded args/kwargs, KerasTensors replaced by the tensors computed so far. The
model's ``layers`` are the layers of those nodes, each once (the input layers
first); they are tracked as sublayers, so ``weights`` gathers theirs.
"""
from nbflow.keras import backend
from nbflow.keras.engine import node as node_module
from nbflow.keras.engine.keras_tensor import KerasTensor
from nbflow.keras.engine.node import flatten, map_structure, pack_as
from nbflow.keras.engine.training import Model
from nbflow.keras.layers.input_layer import InputLayer

__all__ = ["Functional"]


class Functional(Model):
    """A graph network of layers (see the module docstring)."""

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        if inputs is None or outputs is None:
            raise TypeError("Functional models need `inputs` and `outputs`")
        super().__init__(name=name or backend.unique_object_name("model"), trainable=trainable, **kwargs)
        self._init_graph_network(inputs, outputs)

    def _init_graph_network(self, inputs, outputs):
        if isinstance(inputs, dict):
            self._nested_inputs = dict(inputs)
        elif isinstance(inputs, (list, tuple)) and len(inputs) == 1 and not isinstance(inputs[0], (list, tuple)):
            self._nested_inputs = inputs[0]
        else:
            self._nested_inputs = inputs
        self._nested_outputs = outputs
        self.inputs = flatten(self._nested_inputs)
        self.outputs = flatten(outputs)
        for t in self.inputs + self.outputs:
            if not isinstance(t, KerasTensor) or t._keras_history is None:
                raise ValueError("Input/output tensors of a Functional model must come from `tf.keras.Input` and "
                                 "layer calls (KerasTensors). Received: %r" % (t,))
        for t in self.inputs:
            if not isinstance(t._keras_history[0], InputLayer):
                raise ValueError("Model inputs must come from `tf.keras.Input`; %r was made by layer %s"
                                 % (t, t._keras_history[0].name))
        order, seen = [], set()
        input_ids = {id(t) for t in self.inputs}

        def visit(node, path):
            if id(node) in seen:
                return
            if id(node) in path:
                raise ValueError("The functional graph has a cycle at layer %s" % node.layer.name)
            path.add(id(node))
            for t in node.keras_inputs:
                if id(t) not in input_ids:
                    parent = t.node
                    if parent.is_input:
                        raise ValueError("Graph disconnected: cannot obtain value for tensor %r at layer \"%s\". "
                                         "The following previous layers were accessed without issue: %s"
                                         % (t, node.layer.name, [n.layer.name for n in order]))
                    visit(parent, path)
            path.discard(id(node))
            seen.add(id(node))
            order.append(node)

        for t in self.outputs:
            if id(t) not in input_ids:
                visit(t.node, set())
        self._network_nodes = order
        layers = [t._keras_history[0] for t in self.inputs]
        for n in order:
            if not any(n.layer is l for l in layers):
                layers.append(n.layer)
        self._layers = layers
        self._is_graph_network = True
        self.built = True

    # -- introspection ----------------------------------------------------------------------------
    @property
    def layers(self):
        return list(self._layers)

    @property
    def input_names(self):
        return [t._keras_history[0].name for t in self.inputs]

    @property
    def output_names(self):
        names = []
        for t in self.outputs:
            name = t._keras_history[0].name
            names.append(name if name not in names else "%s_%d" % (name, len(names)))
        return names

    @property
    def input(self):
        return self._nested_inputs

    @property
    def output(self):
        return self._nested_outputs if len(self.outputs) > 1 else self.outputs[0]

    @property
    def input_shape(self):
        return map_structure(lambda t: tuple(t.shape.as_list()), self._nested_inputs)

    @property
    def output_shape(self):
        shapes = [tuple(t.shape.as_list()) for t in self.outputs]
        return shapes if len(shapes) > 1 else shapes[0]

    def _relevant_nodes(self):
        return set(id(n) for n in self._network_nodes) | {id(t.node) for t in self.inputs}

    # -- running ------------------------------------------------------------------------------------
    def _flat_inputs(self, inputs):
        if isinstance(inputs, dict) and not isinstance(self._nested_inputs, dict):
            names = self.input_names
            missing = [n for n in names if n not in inputs]
            if missing:
                raise ValueError("Missing data for input(s) %s: the model expects inputs %s" % (missing, names))
            return [inputs[n] for n in names]
        flat = flatten(inputs)
        if len(flat) != len(self.inputs):
            raise ValueError("Layer %s expects %d input(s), but it received %d input tensors."
                             % (self.name, len(self.inputs), len(flat)))
        return flat

    def _run_graph(self, inputs, call_layer):
        values = {id(t): x for t, x in zip(self.inputs, self._flat_inputs(inputs))}
        for n in self._network_nodes:
            args, kwargs = n.map_arguments(values)
            out = call_layer(n.layer, args, kwargs)
            for t, x in zip(flatten(n.outputs), flatten(out)):
                values[id(t)] = x
        return pack_as(self._nested_outputs, [values[id(t)] for t in self.outputs])

    def call(self, inputs, training=None, mask=None):
        return self._run_graph(inputs, lambda layer, args, kwargs: layer(*args, **kwargs))

    def _symbolic_output_specs(self, inputs, args, kwargs):
        """Output specs of this model called on KerasTensors: each node's specs in turn."""
        return self._run_graph(inputs, lambda layer, a, kw: node_module.infer_output_specs(layer, a[0], a[1:], kw))

    def compute_output_shape(self, input_shape):
        return map_structure(lambda t: t.shape, self._nested_outputs)

    def get_config(self):
        raise NotImplementedError("Functional.get_config (model serialization) is not supported by nbflow; "
                                  "use save_weights/load_weights")
