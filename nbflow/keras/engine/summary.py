"""``Model.summary``: TF 2.x Keras' table (``layer_utils.print_summary``'s layout).

Sequential-like models (Sequential, subclassed, and functional chains where each
layer has one node reading one layer): 65 columns at [.45, .85, 1.], columns
``Layer (type)``, ``Output Shape``, ``Param #``; other functional models: 98
columns at [.33, .55, .67, 1.] with ``Connected to`` (``layer[node][tensor]``, one
row per inbound tensor). Each field is cut at its column's end and padded to it;
rows are separated by ``_`` rules, the header and the last row by ``=``.
A layer never called on KerasTensors (a subclassed model's) shows ``multiple``.
"""
from nbflow.keras import backend

__all__ = ["print_summary"]


def _is_sequential_like(model):
    if type(model).__name__ == "Sequential" or not getattr(model, "_is_graph_network", False):
        return True
    relevant = model._relevant_nodes()
    for n in model._network_nodes:
        if len(n.keras_inputs) > 1:
            return False
    for layer in model.layers:
        if sum(1 for n in layer._inbound_nodes if id(n) in relevant) > 1:
            return False
    # one chain: every node is read by at most one node
    readers = {}
    for n in model._network_nodes:
        for t in n.keras_inputs:
            key = id(t.node)
            readers[key] = readers.get(key, 0) + 1
            if readers[key] > 1:
                return False
    return len(model.inputs) == 1


def _row(fields, positions):
    line = ""
    for i, field in enumerate(fields):
        if i > 0:
            line = line[:-1] + " "
        line += str(field)
        line = line[:positions[i]]
        line += " " * (positions[i] - len(line))
    return line


def _output_shape(layer):
    try:
        return layer.output_shape
    except (AttributeError, RuntimeError):
        return "multiple"


def _count(weights):
    return int(sum(backend.count_params(w) for w in {id(w): w for w in weights}.values()))


def print_summary(model, line_length=None, positions=None, print_fn=None):
    print_fn = print_fn or print
    sequential_like = _is_sequential_like(model)
    if sequential_like:
        line_length = line_length or 65
        positions = positions or [.45, .85, 1.]
        header = ["Layer (type)", "Output Shape", "Param #"]
    else:
        line_length = line_length or 98
        positions = positions or [.33, .55, .67, 1.]
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    relevant = model._relevant_nodes() if getattr(model, "_is_graph_network", False) else None

    print_fn('Model: "%s"' % model.name)
    print_fn("_" * line_length)
    print_fn(_row(header, positions))
    print_fn("=" * line_length)
    layers = model.layers
    for i, layer in enumerate(layers):
        params = layer.count_params() if layer.built else "0 (unused)"
        name = "%s (%s)" % (layer.name, type(layer).__name__)
        if sequential_like:
            print_fn(_row([name, _output_shape(layer), params], positions))
        else:
            connections = []
            for n in layer._inbound_nodes:
                if relevant is not None and id(n) not in relevant:
                    continue
                for inbound, node_index, tensor_index, _ in n.iterate_inbound():
                    connections.append("%s[%d][%d]" % (inbound.name, node_index, tensor_index))
            print_fn(_row([name, _output_shape(layer), params, connections[0] if connections else ""], positions))
            for c in connections[1:]:
                print_fn(_row(["", "", "", c], positions))
        print_fn(("=" if i == len(layers) - 1 else "_") * line_length)
    trainable = _count(model.trainable_weights)
    non_trainable = _count(model.non_trainable_weights)
    print_fn("Total params: {:,}".format(trainable + non_trainable))
    print_fn("Trainable params: {:,}".format(trainable))
    print_fn("Non-trainable params: {:,}".format(non_trainable))
    print_fn("_" * line_length)
