"""Nested structures of tensors (``tf.nest``): flatten and rebuild lists, tuples,
namedtuples and dicts (dicts in sorted-key order, as TF does)."""

__all__ = ["is_nested", "flatten", "pack_sequence_as", "map_structure", "assert_same_structure", "flatten_dict_items"]


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(x, "_fields")


def is_nested(x):
    return isinstance(x, (list, tuple, dict))


def _children(x):
    if isinstance(x, dict):
        return [x[k] for k in sorted(x)]
    return list(x)


def flatten(structure):
    if not is_nested(structure):
        return [structure]
    out = []
    for c in _children(structure):
        out.extend(flatten(c))
    return out


def _rebuild(like, values):
    if isinstance(like, dict):
        return type(like)((k, v) for k, v in zip(sorted(like), values))
    if _is_namedtuple(like):
        return type(like)(*values)
    if isinstance(like, tuple):
        return tuple(values)
    return list(values)


def pack_sequence_as(structure, flat_sequence):
    flat_sequence = list(flat_sequence)
    n = len(flatten(structure))
    if n != len(flat_sequence):
        raise ValueError("Structure had %d elements, but flat_sequence had %d elements. Structure: %s"
                         % (n, len(flat_sequence), structure))

    def pack(s, pos):
        if not is_nested(s):
            return flat_sequence[pos], pos + 1
        vals = []
        for c in _children(s):
            v, pos = pack(c, pos)
            vals.append(v)
        return _rebuild(s, vals), pos

    return pack(structure, 0)[0]


def assert_same_structure(nest1, nest2, check_types=True):
    def check(a, b):
        if is_nested(a) != is_nested(b):
            raise ValueError("The two structures don't have the same nested structure.\n\n"
                             "First structure: %s\n\nSecond structure: %s" % (nest1, nest2))
        if not is_nested(a):
            return
        if check_types and type(a) is not type(b) and not (
                isinstance(a, list) and isinstance(b, list)):
            raise TypeError("The two structures don't have the same sequence type. First structure has "
                            "type %s, while second structure has type %s." % (type(a), type(b)))
        ca, cb = _children(a), _children(b)
        if len(ca) != len(cb):
            raise ValueError("The two structures don't have the same number of elements.\n\n"
                             "First structure: %s\n\nSecond structure: %s" % (nest1, nest2))
        for x, y in zip(ca, cb):
            check(x, y)

    check(nest1, nest2)


def map_structure(func, *structures):
    if not structures:
        raise ValueError("Must provide at least one structure")
    for s in structures[1:]:
        assert_same_structure(structures[0], s)
    flats = [flatten(s) for s in structures]
    return pack_sequence_as(structures[0], [func(*xs) for xs in zip(*flats)])


def flatten_dict_items(dictionary):
    """``{key: value}`` with each nested key (a tuple, e.g. an LSTMStateTuple of
    Tensors) expanded into its leaves, each paired with the leaf of ``value`` at
    the same place (TF's nest.flatten_dict_items, which Session.run applies to
    feed_dict)."""
    if not isinstance(dictionary, dict):
        raise TypeError("input must be a dictionary")
    flat = {}
    for key, value in dictionary.items():
        if not is_nested(key):
            if key in flat:
                raise ValueError("Could not flatten dictionary: key %s is not unique." % (key,))
            flat[key] = value
            continue
        flat_key, flat_value = flatten(key), flatten(value)
        if len(flat_key) != len(flat_value):
            raise ValueError("Could not flatten dictionary. Key had %d elements, but value had %d elements. "
                             "Key: %s, value: %s." % (len(flat_key), len(flat_value), flat_key, flat_value))
        for k, v in zip(flat_key, flat_value):
            if k in flat:
                raise ValueError("Could not flatten dictionary: key %s is not unique." % (k,))
            flat[k] = v
    return flat
