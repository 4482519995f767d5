"""``tf.Module``: a named container of ``tf.Variable``s, other modules and the
functions that apply to user input.

Naming follows TF (tensorflow/python/module/module.py). The constructor enters
``tf.name_scope(name)`` once, which makes the scope unique in the current
scope ("mlp", then "mlp_1"; "mlp/dense" when built inside a parent's scope),
and keeps the resulting absolute scope ("mlp/"). ``module.name_scope`` re-enters
that absolute scope each time, so a variable created inside is named
``mlp/w:0`` and ops built in a method decorated with
``@tf.Module.with_name_scope`` are named ``mlp/MatMul``.

Only ``nbflow.framework.graph.name_scope`` and ``tf.Variable`` are used, so the
same code serves graph mode and (later) eager mode, whose variables take their
names from the same name scopes.

Variables and submodules are found by reflection, as TF's ``_flatten_module``:
the instance's attributes sorted by name, each flattened as ``tf.nest`` does
(lists, tuples, namedtuples; dicts by sorted key), leaves deduplicated by
identity, the module's own leaves first, then each submodule's (breadth first
by level, in the order they were found).
"""
import functools
import re

from nbflow.framework import nest
from nbflow.framework.graph import name_scope as _name_scope
from nbflow.ops.variables import Variable

__all__ = ["Module"]

_CAMEL_TO_SNAKE = re.compile(r"((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))")
_VALID_IDENTIFIER = re.compile(r"^[a-zA-Z_]([a-zA-Z0-9_])*$")


def camel_to_snake(value):
    """``"MyModule"`` -> ``"my_module"``, ``"MLP"`` -> ``"mlp"``, ``"HTTPServer"`` -> ``"http_server"``."""
    return _CAMEL_TO_SNAKE.sub(r"_\1", value).lower()


def valid_identifier(name):
    return isinstance(name, str) and bool(_VALID_IDENTIFIER.match(name))


class _ModuleNameScope:
    """A module's name scope: re-enterable (and re-entrant), always the same
    absolute scope. ``name`` is that scope, ending in "/" (TF's ``name_scope_v2.name``)."""

    __slots__ = ("_name", "_entered")

    def __init__(self, scope_name):
        self._name = scope_name
        self._entered = []

    @property
    def name(self):
        return self._name

    def __enter__(self):
        cm = _name_scope(self._name)
        scope = cm.__enter__()
        self._entered.append(cm)
        return scope

    def __exit__(self, *exc):
        return self._entered.pop().__exit__(*exc)

    def __repr__(self):
        return "<name_scope %r>" % self._name


class Module:
    """Base neural network module class (``tf.Module``).

    Subclasses assign ``tf.Variable``s and other modules to attributes (directly
    or inside lists, tuples and dicts); ``variables``, ``trainable_variables``
    and ``submodules`` find them. Enter ``with self.name_scope:`` (or decorate a
    method with ``@tf.Module.with_name_scope``) to name variables and ops after
    the module.
    """

    # Attributes _flatten never walks (in TF, AutoTrackable's bookkeeping; kept for subclasses that extend it).
    _TF_MODULE_IGNORED_PROPERTIES = frozenset((
        "_self_unconditional_checkpoint_dependencies", "_self_unconditional_dependency_names",
        "_pending_restorations"))

    def __init__(self, name=None):
        if name is None:
            name = camel_to_snake(type(self).__name__)
        elif not valid_identifier(name):
            raise ValueError(
                "%r is not a valid module name. Module names must be valid Python "
                "identifiers (e.g. a valid class name)." % (name,))
        self._name = name
        with _name_scope(name) as scope_name:
            self._name_scope = _ModuleNameScope(scope_name)

    @property
    def name(self):
        """The name passed to (or derived by) the constructor: not the scope, which
        includes the parents' names and a uniquifying suffix."""
        return self._name

    @property
    def name_scope(self):
        """The module's name scope, to enter with ``with``; ``.name`` is e.g. ``"mlp/"``."""
        return self._name_scope

    @property
    def variables(self):
        """This module's variables (by attribute name), then its submodules' (breadth first)."""
        return tuple(self._flatten(predicate=_is_variable))

    @property
    def trainable_variables(self):
        """As ``variables``, only those created with ``trainable=True``."""
        return tuple(self._flatten(predicate=_is_trainable_variable))

    @property
    def submodules(self):
        """Every module reachable through attributes, recursively (breadth first)."""
        return tuple(self._flatten(predicate=_is_module))

    def _flatten(self, recursive=True, predicate=None, attribute_traversal_key=None, with_path=False):
        """Attribute values (flattened through nested structures), sorted by
        attribute name, optionally recursing into submodules, filtered by
        ``predicate``. With ``with_path``, yields ``(path, value)`` where path is
        the tuple of attribute names, indices and keys leading to the value (and
        values reachable by several paths are yielded once per path)."""
        if predicate is None:
            predicate = _always
        return _flatten_module(
            self, recursive=recursive, predicate=predicate, attribute_traversal_key=attribute_traversal_key,
            attributes_to_ignore=self._TF_MODULE_IGNORED_PROPERTIES, with_path=with_path)

    # -- tf.train.Checkpoint's object graph (nbflow/train/tracking.py) ----------------------------
    def _trackable_children(self):
        """The attributes holding variables, modules or other trackable objects (directly or
        in lists, tuples and dicts), by attribute name, as TF's AutoTrackable; the checkpoint
        keeps those that are trackable."""
        ignored = self._TF_MODULE_IGNORED_PROPERTIES
        return {k: v for k, v in sorted(vars(self).items())
                if k not in ignored and k not in ("_name", "_name_scope")}

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)
        pending = self.__dict__.get("_pending_restorations")
        if pending and name in pending:  # a value a restore found no object for: restore it now
            pending.pop(name)(value)

    @classmethod
    def with_name_scope(cls, method):
        """Decorator: run ``method`` inside the module's name scope."""

        @functools.wraps(method)
        def method_with_name_scope(self, *args, **kwargs):
            with self.name_scope:
                return method(self, *args, **kwargs)

        return method_with_name_scope


def _always(_):
    return True


def _is_variable(obj):
    return isinstance(obj, Variable)


def _is_trainable_variable(obj):
    return _is_variable(obj) and bool(getattr(obj, "trainable", False))


def _is_module(obj):
    return isinstance(obj, Module)


def _flatten_with_paths(value):
    """``[(path, leaf)]`` of a nested structure, as ``tf.nest.flatten_with_tuple_paths``."""
    if not nest.is_nested(value):
        return [((), value)]
    if isinstance(value, dict):
        items = [(k, value[k]) for k in sorted(value)]
    else:
        items = list(enumerate(value))
    out = []
    for key, child in items:
        out.extend(((key,) + path, leaf) for path, leaf in _flatten_with_paths(child))
    return out


def _flatten_module(module, recursive, predicate, attribute_traversal_key, attributes_to_ignore, with_path,
                    module_path=(), seen=None, recursion_stack=None):
    module_id = id(module)
    if seen is None:
        seen = {module_id}
    if recursion_stack is None:
        recursion_stack = []
    # A module already being walked (a cycle, reached again with with_path=True, where
    # leaves are not deduplicated) is listed but not walked again.
    if module_id in recursion_stack:
        recursive = False
    module_dict = vars(module)
    submodules = []
    for key in sorted(module_dict, key=attribute_traversal_key):
        if key in attributes_to_ignore:
            continue
        prop = module_dict[key]
        try:
            leaves = _flatten_with_paths(prop)
        except Exception as cause:
            raise ValueError("Error processing property {!r} of {!r}".format(key, prop)) from cause
        for leaf_path, leaf in leaves:
            leaf_path = (key,) + leaf_path
            if not with_path:
                if id(leaf) in seen:
                    continue
                seen.add(id(leaf))
            if predicate(leaf):
                yield (module_path + leaf_path, leaf) if with_path else leaf
            if recursive and _is_module(leaf):
                submodules.append((module_path + leaf_path, leaf))  # own attributes first, then recurse
    recursion_stack.append(module_id)
    for submodule_path, submodule in submodules:
        yield from _flatten_module(
            submodule, recursive=recursive, predicate=predicate, attribute_traversal_key=attribute_traversal_key,
            attributes_to_ignore=submodule._TF_MODULE_IGNORED_PROPERTIES, with_path=with_path,
            module_path=submodule_path, seen=seen, recursion_stack=recursion_stack)
    recursion_stack.pop()
