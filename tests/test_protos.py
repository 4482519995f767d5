"""tf.NodeDef, tf.GraphDef and the other protobuf classes TF 1.15 exposes at top level."""
import numpy as np
import pytest

import nbflow as tf


@pytest.mark.parametrize("name,full_name", [
    ("NodeDef", "tensorflow.NodeDef"), ("GraphDef", "tensorflow.GraphDef"), ("AttrValue", "tensorflow.AttrValue"),
    ("NameAttrList", "tensorflow.NameAttrList"), ("MetaGraphDef", "tensorflow.MetaGraphDef"),
    ("TensorInfo", "tensorflow.TensorInfo"), ("Summary", "tensorflow.Summary"),
    ("SummaryMetadata", "tensorflow.SummaryMetadata"), ("HistogramProto", "tensorflow.HistogramProto"),
    ("Event", "tensorflow.Event"), ("SessionLog", "tensorflow.SessionLog"), ("LogMessage", "tensorflow.LogMessage"),
])
def test_proto_classes_are_tfs_messages(name, full_name):
    cls = getattr(tf, name)
    # TensorBoard's copy of TF's message: same name and fields, proto package "tensorboard"
    assert cls.DESCRIPTOR.full_name == full_name.replace("tensorflow.", "tensorboard.")
    assert getattr(tf.compat.v1, name) is cls
    assert hasattr(tf, name)


def test_summary_classes_are_shared_with_tf_summary():
    assert tf.Summary is tf.summary.Summary and tf.Event is tf.summary.Event


def test_graph_def_and_node_def_of_a_graph():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder("float", [None, 3], name="x")
        y = tf.identity(x * 2.0, name="y")
    gd = g.as_graph_def()
    assert isinstance(gd, tf.GraphDef)
    assert [n.name for n in gd.node] == [op.name for op in g.get_operations()]
    nd = y.op.node_def
    assert isinstance(nd, tf.NodeDef)
    assert nd.name == "y" and nd.op == "Identity" and list(nd.input) == [y.op.inputs[0].op.name]
    assert x.op.node_def.attr["dtype"].type == 1  # DT_FLOAT
    # an op prints as its NodeDef's text format, as in TF
    assert str(y.op) == str(nd) and 'name: "y"' in str(y.op) and 'op: "Identity"' in str(y.op)
    # the message round-trips through its wire format
    again = tf.GraphDef()
    again.ParseFromString(gd.SerializeToString())
    assert again == gd


def test_building_protos_by_hand():
    nd = tf.NodeDef(name="c", op="Const")
    nd.attr["value"].CopyFrom(tf.AttrValue(f=1.5))
    gd = tf.GraphDef(node=[nd])
    assert gd.node[0].attr["value"].f == 1.5
    s = tf.Summary(value=[tf.Summary.Value(tag="loss", simple_value=0.25)])
    assert np.isclose(s.value[0].simple_value, 0.25)


def test_other_missing_names_still_raise_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'NoSuchProto'"):
        tf.NoSuchProto
