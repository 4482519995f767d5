"""An nbflow Graph as TensorFlow's GraphDef protobuf (for TensorBoard's graph view).

Each node has its name, op type, inputs (``^name`` for control inputs),
device, the attributes that have a protobuf form (dtypes, shapes, bools, ints,
floats, strings, lists of those, small constant values) and ``_output_shapes``
(TensorBoard labels edges with them). Attributes without a protobuf form
(Python callables, ...) are left out; constants with more than
``max_const_elements`` elements keep their dtype and shape but not their values.
"""
import numpy as np

from nbflow.framework import hooks
from nbflow.framework.dtypes import DType
from nbflow.framework.tensor_shape import TensorShape
from nbflow.backends.summary_encoding import as_bytes, shape_proto, tensor_proto, _dtype_enum

MAX_CONST_ELEMENTS = 1024


def _shape_dims(shape):
    return None if shape.ndims is None else shape.as_tuple()


def attr_value(value, max_const_elements=MAX_CONST_ELEMENTS):
    """An AttrValue for a Python/numpy attribute value, or None when it has no protobuf form."""
    from tensorboard.compat.proto import attr_value_pb2

    A = attr_value_pb2.AttrValue
    if isinstance(value, DType):
        enum = _dtype_enum(value.as_numpy_dtype)
        return None if enum is None else A(type=enum)
    if isinstance(value, TensorShape):
        return A(shape=shape_proto(_shape_dims(value)))
    if isinstance(value, (bool, np.bool_)):
        return A(b=bool(value))
    if isinstance(value, (int, np.integer)):
        return A(i=int(value))
    if isinstance(value, (float, np.floating)):
        return A(f=float(value))
    if isinstance(value, (str, bytes)):
        return A(s=as_bytes(value))
    if isinstance(value, np.ndarray):
        if _dtype_enum(value.dtype) is None and value.dtype.kind not in "SU":
            return None
        return A(tensor=tensor_proto(value, with_content=value.size <= max_const_elements))
    if isinstance(value, (list, tuple)):
        lv = A.ListValue()
        if all(isinstance(v, (bool, np.bool_)) for v in value):
            lv.b.extend(bool(v) for v in value)
        elif all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
            lv.i.extend(int(v) for v in value)
        elif all(isinstance(v, (int, float, np.integer, np.floating)) for v in value):
            lv.f.extend(float(v) for v in value)
        elif all(isinstance(v, (str, bytes)) for v in value):
            lv.s.extend(as_bytes(v) for v in value)
        elif all(isinstance(v, DType) for v in value):
            enums = [_dtype_enum(v.as_numpy_dtype) for v in value]
            if any(e is None for e in enums):
                return None
            lv.type.extend(enums)
        elif all(isinstance(v, TensorShape) for v in value):
            lv.shape.extend(shape_proto(_shape_dims(v)) for v in value)
        else:
            return None
        return A(list=lv)
    return None


def node_def(op, add_shapes=True):
    from tensorboard.compat.proto import attr_value_pb2, node_def_pb2

    n = node_def_pb2.NodeDef(name=op.name, op=op.type, device=op.device or "")
    n.input.extend(t._as_node_def_input() for t in op.inputs)
    n.input.extend("^" + c.name for c in op.control_inputs)
    for key, value in sorted(op.attrs.items()):
        av = attr_value(value)
        if av is not None:
            n.attr[key].CopyFrom(av)
    if add_shapes and op.outputs:
        lv = attr_value_pb2.AttrValue.ListValue()
        lv.shape.extend(shape_proto(_shape_dims(t.shape)) for t in op.outputs)
        n.attr["_output_shapes"].CopyFrom(attr_value_pb2.AttrValue(list=lv))
    return n


def graph_def(graph, add_shapes=True):
    """The GraphDef proto of an nbflow Graph (nodes in creation order)."""
    from tensorboard.compat.proto import graph_pb2, versions_pb2

    g = graph_pb2.GraphDef(versions=versions_pb2.VersionDef(producer=134))
    g.node.extend(node_def(op, add_shapes) for op in graph.get_operations())
    return g


hooks.register(hooks.GRAPH_DEF, graph_def)
hooks.register(hooks.NODE_DEF, node_def)
