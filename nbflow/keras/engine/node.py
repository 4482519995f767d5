"""Nodes of the functional API and the Layer base's symbolic hook.

``call_symbolic(layer, inputs, args, kwargs)`` is installed as
``Layer._call_symbolic`` (nbflow/keras/engine/__init__.py): a layer called on
KerasTensors builds itself from their shapes (``_maybe_build``), infers its output
specs and records a ``Node`` -- (layer, call args and kwargs holding KerasTensors,
output KerasTensors) -- in ``layer._inbound_nodes``. A layer called several times
(a shared layer) has one node per call.

Output specs: ``compute_output_shape`` when the layer's class defines it (dtype:
the layer's compute dtype for floating inputs or layers with weights, else the
first input's dtype); a model used as a layer propagates specs through its own
nodes; otherwise the layer is called on placeholders of the input specs in a
scratch graph (a ``FuncGraph`` in eager programs, reading the eager weights; in a
TF 1 graph the default graph, under a ``keras_scratch`` scope, since its weights
live there) and the outputs' static shapes and dtypes are taken.

The properties installed on Layer: ``inbound_nodes``, ``input``, ``output``,
``input_shape``, ``output_shape`` (TF's AttributeErrors when never called, or
called several times with different shapes).
"""
from nbflow.framework import context
from nbflow.framework.graph import name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.keras.engine.keras_tensor import KerasTensor
from nbflow.keras.layers.base_layer import Layer, _call_context

__all__ = ["Node", "call_symbolic", "map_structure", "flatten", "infer_output_specs", "install"]


def _is_kt(x):
    return isinstance(x, KerasTensor)


def flatten(x):
    """The leaves of lists, tuples and dicts (dict values by sorted key), in order."""
    if isinstance(x, (list, tuple)):
        return [leaf for item in x for leaf in flatten(item)]
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in flatten(x[k])]
    return [x]


def map_structure(fn, x):
    if isinstance(x, list):
        return [map_structure(fn, v) for v in x]
    if isinstance(x, tuple):
        return tuple(map_structure(fn, v) for v in x)
    if isinstance(x, dict):
        return {k: map_structure(fn, v) for k, v in x.items()}
    return fn(x)


def pack_as(structure, flat):
    """``flat`` leaves in the nesting of ``structure`` (the inverse of ``flatten``)."""
    it = iter(flat)

    def pack(x):
        if isinstance(x, list):
            return [pack(v) for v in x]
        if isinstance(x, tuple):
            return tuple(pack(v) for v in x)
        if isinstance(x, dict):
            return {k: pack(x[k]) for k in sorted(x)}
        return next(it)

    return pack(structure)


class Node:
    """One call of ``layer`` in the functional graph."""

    def __init__(self, layer, call_args, call_kwargs, outputs):
        self.layer = layer
        self.call_args = tuple(call_args)
        self.call_kwargs = dict(call_kwargs or {})
        self.outputs = outputs
        self.keras_inputs = [x for x in flatten((self.call_args, self.call_kwargs)) if _is_kt(x)]
        nodes = layer.__dict__.setdefault("_inbound_nodes_list", [])
        self.node_index = len(nodes)
        nodes.append(self)
        for i, t in enumerate(flatten(outputs)):
            t._keras_history = (layer, self.node_index, i)

    @property
    def is_input(self):
        return not self.keras_inputs

    @property
    def parent_nodes(self):
        return [t.node for t in self.keras_inputs]

    @property
    def inbound_layers(self):
        return [t._keras_history[0] for t in self.keras_inputs]

    def iterate_inbound(self):
        """(inbound layer, its node index, tensor index, KerasTensor) per input."""
        for t in self.keras_inputs:
            layer, node_index, tensor_index = t._keras_history
            yield layer, node_index, tensor_index, t

    def map_arguments(self, values):
        """The call's args and kwargs with each KerasTensor replaced by ``values[id(kt)]``."""
        fn = (lambda x: values[id(x)] if _is_kt(x) else x)
        return map_structure(fn, self.call_args), map_structure(fn, self.call_kwargs)

    @property
    def input_shapes(self):
        return map_structure(lambda x: x.shape if _is_kt(x) else x, self.call_args[0]) if self.call_args else None

    @property
    def output_shapes(self):
        return map_structure(lambda t: t.shape, self.outputs)

    def __repr__(self):
        return "<Node %s[%d]>" % (self.layer.name, self.node_index)


# -- output specs ------------------------------------------------------------------------------
def _spec_shape(x):
    if _is_kt(x):
        return x.shape
    import numpy as np
    return TensorShape(list(np.shape(x)))


def _defines(layer, method):
    return getattr(type(layer), method) is not getattr(Layer, method)


def infer_output_specs(layer, inputs, args, kwargs):
    """Output KerasTensors (without history) of ``layer(inputs, *args, **kwargs)`` on KerasTensors."""
    own = getattr(layer, "_symbolic_output_specs", None)
    if own is not None:
        return own(inputs, args, kwargs)
    if _defines(layer, "compute_output_shape") and not args and set(kwargs) <= {"training", "mask"}:
        try:
            shapes = layer.compute_output_shape(map_structure(_spec_shape, inputs))
        except NotImplementedError:
            shapes = None
        if shapes is not None:
            dtype = _output_dtype(layer, inputs)
            if isinstance(shapes, (list, tuple)) and shapes and isinstance(shapes[0], (TensorShape, list, tuple)) \
                    and not all(isinstance(d, int) or d is None for d in shapes):
                return [KerasTensor(TensorShape(s), dtype) for s in shapes]
            return KerasTensor(TensorShape(shapes), dtype)
    return _specs_by_scratch_call(layer, inputs, args, kwargs)


def _output_dtype(layer, inputs):
    leaves = [x for x in flatten(inputs) if _is_kt(x)]
    if not leaves or any(x.dtype.is_floating for x in leaves) or layer.weights:
        return layer._compute_dtype
    return leaves[0].dtype


def _specs_by_scratch_call(layer, inputs, args, kwargs):
    """Call the layer on placeholders of the specs in a scratch graph; keep the outputs' specs."""
    from nbflow.ops.constant_op import placeholder

    def run():
        def ph(x):
            return placeholder(x.dtype, x.shape) if _is_kt(x) else x
        out = layer(map_structure(ph, inputs), *map_structure(ph, args), **map_structure(ph, kwargs))
        return map_structure(lambda t: KerasTensor(t.shape, t.dtype), out)

    saved_losses = {id(sub): list(sub._call_losses) for sub in layer._flatten_layers()}
    depth = _call_context.depth
    try:
        if context.eager_enabled():
            from nbflow.eager.func_graph import FuncGraph
            with FuncGraph("keras_scratch").as_default():
                return run()
        with name_scope("keras_scratch"):
            return run()
    except Exception as e:
        raise TypeError("Could not compute the output shape of layer %r (%s) on symbolic inputs: %s: %s. Define "
                        "`compute_output_shape` on the layer." % (layer.name, type(layer).__name__,
                                                                 type(e).__name__, e)) from e
    finally:
        _call_context.depth = depth
        for sub in layer._flatten_layers():  # the scratch call's losses are not the model's
            sub._call_losses = saved_losses.get(id(sub), [])


# -- the hook ------------------------------------------------------------------------------------
def call_symbolic(layer, inputs, args, kwargs):
    """``Layer._call_symbolic``: build from the specs, record a Node, return output KerasTensors."""
    if not all(_is_kt(x) for x in flatten(inputs) if getattr(x, "_keras_symbolic", False)):
        raise NotImplementedError("Symbolic inputs other than KerasTensors (tf.keras.Input) are not supported")
    if not layer.built:
        if not context.eager_enabled() and layer._dtype is None:
            first = next((x for x in flatten(inputs) if _is_kt(x)), None)
            if first is not None and first.dtype.is_floating:
                layer._dtype = first.dtype
        layer._maybe_build(map_structure(_spec_shape, inputs))
    outputs = infer_output_specs(layer, inputs, args, kwargs)
    for i, t in enumerate(flatten(outputs)):
        t._name = layer.name + ("" if i == 0 else "_%d" % i)
    Node(layer, (inputs,) + tuple(args), kwargs, outputs)
    return outputs


# -- Layer properties ------------------------------------------------------------------------------
def _inbound_nodes(self):
    return self.__dict__.setdefault("_inbound_nodes_list", [])


def _single(layer, attr, what):
    nodes = layer._inbound_nodes
    if not nodes:
        raise AttributeError("The layer %s has never been called and thus has no defined %s." % (layer.name, what))
    values = [getattr(n, attr) for n in nodes]
    if len(values) > 1 and any(repr(v) != repr(values[0]) for v in values[1:]):
        raise AttributeError('The layer "%s" has multiple inbound nodes, with different %ss. Hence the notion of '
                             '"%s" is ill-defined for the layer.' % (layer.name, what, what))
    return values[0]


def _shape_value(s):
    return map_structure(lambda t: tuple(t.as_list()) if isinstance(t, TensorShape) and t.ndims is not None
                         else t, s)


def _output_shape(self):
    from nbflow.keras.layers.input_layer import InputLayer
    shape = _shape_value(_single(self, "output_shapes", "output shape"))
    return [shape] if isinstance(self, InputLayer) else shape


def _input_shape(self):
    from nbflow.keras.layers.input_layer import InputLayer
    if isinstance(self, InputLayer):
        return [_shape_value(_single(self, "output_shapes", "input shape"))]
    return _shape_value(_single(self, "input_shapes", "input shape"))


def _output(self):
    return _single(self, "outputs", "output")


def _input(self):
    from nbflow.keras.layers.input_layer import InputLayer
    if isinstance(self, InputLayer):
        return _single(self, "outputs", "input")
    node = _single(self, "call_args", "input")
    return node[0]


def install():
    """Put the hook and the node properties on the Layer base (once)."""
    Layer._call_symbolic = call_symbolic
    Layer._inbound_nodes = property(_inbound_nodes)
    Layer.inbound_nodes = property(_inbound_nodes)
    Layer.output_shape = property(_output_shape)
    Layer.input_shape = property(_input_shape)
    Layer.output = property(_output)
    Layer.input = property(_input)

