"""``arg_scope`` and ``add_arg_scope`` (TF 1.15's contrib/framework arg_scope.py).

``with arg_scope([fully_connected, conv2d], activation_fn=tf.nn.relu, ...):``
gives default keyword arguments to the listed functions for the calls made
inside the block; arguments passed explicitly win, nested scopes add to (and
override) the outer ones, and a scope captured as ``with arg_scope(...) as sc``
can be re-entered later with ``with arg_scope(sc):``. Only functions
decorated with ``add_arg_scope`` take part (the tf.contrib.layers functions,
``variable``, ``model_variable``).
"""
import contextlib
import functools
import threading

__all__ = ["arg_scope", "add_arg_scope", "current_arg_scope", "has_arg_scope", "arg_scoped_arguments",
           "arg_scope_func_key"]

_local = threading.local()
_DECORATED_OPS = {}


def _get_arg_stack():
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = [{}]
    return stack


def current_arg_scope():
    """The innermost scope: ``{function key: {argument: default}}``."""
    return _get_arg_stack()[-1]


def arg_scope_func_key(op):
    return getattr(op, "_key_op", str(op))


def _name_op(op):
    return (op.__module__, op.__name__)


def _kwarg_names(func):
    kwargs_length = len(func.__defaults__) if func.__defaults__ else 0
    return func.__code__.co_varnames[-kwargs_length:func.__code__.co_argcount]


@contextlib.contextmanager
def arg_scope(list_ops_or_scope, **kwargs):
    """Sets default keyword arguments of the functions in ``list_ops_or_scope``
    (or re-enters a scope, a dict, captured earlier) for the calls in the block."""
    if isinstance(list_ops_or_scope, dict):
        if kwargs:
            raise ValueError("When attempting to re-use a scope by suppling a dictionary, kwargs must be empty.")
        current_scope = list_ops_or_scope.copy()
    else:
        if not isinstance(list_ops_or_scope, (list, tuple)):
            raise TypeError("list_ops_or_scope must either be a list/tuple or reused scope (i.e. dict)")
        current_scope = current_arg_scope().copy()
        for op in list_ops_or_scope:
            key = arg_scope_func_key(op)
            if not has_arg_scope(op):
                raise ValueError("%s is not decorated with @add_arg_scope" % (_name_op(op),))
            if key in current_scope:
                current_kwargs = current_scope[key].copy()
                current_kwargs.update(kwargs)
                current_scope[key] = current_kwargs
            else:
                current_scope[key] = kwargs.copy()
    stack = _get_arg_stack()
    stack.append(current_scope)
    try:
        yield current_scope
    finally:
        stack.pop()


def add_arg_scope(func):
    """Decorates ``func`` so that ``arg_scope`` can set defaults of its keyword arguments."""
    key_func = arg_scope_func_key(func)

    @functools.wraps(func)
    def func_with_args(*args, **kwargs):
        current_scope = current_arg_scope()
        current_args = kwargs
        if key_func in current_scope:
            current_args = current_scope[key_func].copy()
            current_args.update(kwargs)
        return func(*args, **current_args)
    _DECORATED_OPS[key_func] = _kwarg_names(func)
    func_with_args._key_op = key_func
    return func_with_args


def has_arg_scope(func):
    """True when ``func`` was decorated with ``add_arg_scope``."""
    return arg_scope_func_key(func) in _DECORATED_OPS


def arg_scoped_arguments(func):
    """The names of ``func``'s keyword arguments that ``arg_scope`` may set."""
    if not has_arg_scope(func):
        raise ValueError("%s is not decorated with @add_arg_scope" % (_name_op(func),))
    return _DECORATED_OPS[arg_scope_func_key(func)]
