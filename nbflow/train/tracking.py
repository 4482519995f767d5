"""The object graph that ``tf.train.Checkpoint`` saves: the "trackable" protocol.

An object takes part by duck typing, so the classes that implement it import
nothing from here:

* a **variable** (``tf.Variable``) is a leaf; its value is saved under
  ``<path>/.ATTRIBUTES/VARIABLE_VALUE``;
* ``obj._trackable_children()`` returns ``{name: child}``: its dependencies,
  each a variable, another trackable object, or a list / tuple / dict of them
  (children named by index or key). ``tf.Module`` returns its attributes (as
  TF's AutoTrackable), ``tf.train.Checkpoint`` its keyword arguments and
  ``save_counter``, a Keras optimizer ``iter`` and its hyper-parameter variables;
  a Keras Layer/Model implements it the same way (its weights and sublayers);
* ``obj._trackable_slots()`` (optimizers) returns ``[(variable, slot name,
  slot variable)]``; a slot is saved under the path of the variable it belongs
  to: ``<variable path>/.OPTIMIZER_SLOT/<optimizer path>/<slot name>/...``;
  ``obj._restore_slot(variable, slot_name, value, on_restored)`` assigns it, or
  keeps it until the slot is made (deferred restoration: slots made by the
  first ``apply_gradients`` after a restore start from the saved values);
* an object that can be given children after a restore (``tf.Module``,
  ``Checkpoint``) calls ``callback = obj.__dict__["_pending_restorations"].pop(name)``
  and ``callback(child)`` when attribute ``name`` is set (deferred restoration of
  objects created later).

The object graph is walked breadth first from the root; an object reachable by
several paths is saved once, under the first.
"""
from nbflow.ops.variables import Variable

__all__ = ["VARIABLE_VALUE", "OPTIMIZER_SLOT", "is_variable", "is_trackable", "children", "walk",
           "escape_name", "variable_key", "slot_key"]

VARIABLE_VALUE = ".ATTRIBUTES/VARIABLE_VALUE"
OPTIMIZER_SLOT = ".OPTIMIZER_SLOT"
#: the attribute of an object's instance dict holding {child name: callback} of pending restorations
PENDING = "_pending_restorations"


def is_variable(obj):
    return isinstance(obj, Variable)


def _is_container(obj):
    return isinstance(obj, (list, tuple, dict))


def is_trackable(obj):
    """A variable, an object with ``_trackable_children``, or a container holding one."""
    if is_variable(obj) or callable(getattr(type(obj), "_trackable_children", None)):
        return True
    if isinstance(obj, dict):
        return any(is_trackable(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(is_trackable(v) for v in obj)
    return False


def children(obj):
    """``{name: child}`` of a trackable object (variables have none); only trackable children."""
    if is_variable(obj):
        return {}
    if isinstance(obj, dict):
        items = [(str(k), v) for k, v in obj.items()]
    elif isinstance(obj, (list, tuple)):
        items = [(str(i), v) for i, v in enumerate(obj)]
    else:
        fn = getattr(obj, "_trackable_children", None)
        if fn is None:
            return {}
        items = list(fn().items())
    return {name: child for name, child in items if is_trackable(child)}


def escape_name(name):
    """One path component: '.' and '/' escaped as TF does ('..' and '.S')."""
    return name.replace(".", "..").replace("/", ".S")


def walk(root):
    """``[(path, obj)]`` breadth first from ``root`` (path: a tuple of escaped names; the
    root's is ``()``); each object once, under its first path."""
    out = [((), root)]
    seen = {id(root)}
    i = 0
    while i < len(out):
        path, obj = out[i]
        i += 1
        for name, child in children(obj).items():
            if id(child) in seen:
                continue
            seen.add(id(child))
            out.append((path + (escape_name(name),), child))
    return out


def variable_key(path):
    return "/".join(path + (VARIABLE_VALUE,))


def slot_key(variable_path, optimizer_path, slot_name):
    return "/".join(variable_path + (OPTIMIZER_SLOT,) + optimizer_path + (escape_name(slot_name), VARIABLE_VALUE))


def split_slot_key(key):
    """``(variable path, optimizer path + slot name)`` of a slot key, or None."""
    marker = "/" + OPTIMIZER_SLOT + "/"
    if marker not in key or not key.endswith("/" + VARIABLE_VALUE):
        return None
    var_part, rest = key.split(marker, 1)
    rest = rest[: -len("/" + VARIABLE_VALUE)]
    return tuple(var_part.split("/")), tuple(rest.split("/"))


def defer(obj, name, callback):
    """Ask ``obj`` to call ``callback(child)`` when its attribute ``name`` is set; False if
    ``obj`` cannot (it has no instance dict)."""
    d = getattr(obj, "__dict__", None)
    if d is None or _is_container(obj):
        return False
    d.setdefault(PENDING, {})[name] = callback
    return True
