"""convert / to_graph / to_code / do_not_convert.

A function is converted once per code object: its source is parsed,
rewritten (transformer.py) and compiled inside a factory whose parameters are
``ag__`` and the function's free variables, so the converted code object has
the same free variables. Each converted function is then built from that
code object with the original's globals, defaults and closure cells, so it
sees the same globals and closure values as the original, live.
"""
import ast
import functools
import inspect
import linecache
import logging
import textwrap
import types
import weakref

from nbflow.autograph import operators
from nbflow.autograph.transformer import convert_source

_log = logging.getLogger("nbflow")

_CODE_CACHE = weakref.WeakKeyDictionary()   # original code object -> (converted code, source)
_FN_CACHE = weakref.WeakKeyDictionary()     # original function -> converted function
_DO_NOT_CONVERT = "__ag_do_not_convert__"
_CONVERTED = "__ag_converted__"


class ConversionError(Exception):
    """The function's source could not be converted."""


def do_not_convert(func=None):
    """``tf.autograph.experimental.do_not_convert``: the function is called
    as it is, never converted."""
    if func is None:
        return do_not_convert
    try:
        setattr(func, _DO_NOT_CONVERT, True)
        return func
    except (AttributeError, TypeError):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            return func(*args, **kwargs)
        setattr(wrapper, _DO_NOT_CONVERT, True)
        return wrapper


def _is_convertible(fn):
    if getattr(fn, _DO_NOT_CONVERT, False) or getattr(fn, _CONVERTED, False):
        return False
    if not isinstance(fn, types.FunctionType) or fn.__name__ == "<lambda>":
        return False
    if inspect.isgeneratorfunction(fn) or inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        return False
    module = getattr(fn, "__module__", None) or ""
    return not (module == "nbflow" or module.startswith("nbflow.")) or module.startswith("nbflow.examples")


def _parse(fn):
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as e:
        raise ConversionError("autograph could not read the source of %s: %s" % (fn.__qualname__, e)) from None
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == fn.__name__:
            return node
    raise ConversionError("autograph could not find the definition of %s in its source" % fn.__qualname__)


def _convert_code(fn):
    """-> (converted code object, converted source), once per code object."""
    code = fn.__code__
    hit = _CODE_CACHE.get(code)
    if hit is not None:
        return hit
    node = _parse(fn)
    inner_name = "tf__" + fn.__name__
    source = convert_source(node, inner_name)
    params = ", ".join(("ag__",) + code.co_freevars)
    factory = "def ag__factory(%s):\n%s    return %s\n" % (params, textwrap.indent(source, "    "), inner_name)
    filename = "<autograph %s>" % fn.__qualname__
    module_code = compile(factory, filename, "exec")
    linecache.cache[filename] = (len(factory), None, factory.splitlines(True), filename)  # readable tracebacks
    factory_code = next(c for c in module_code.co_consts if isinstance(c, types.CodeType))
    inner = next(c for c in factory_code.co_consts if isinstance(c, types.CodeType) and c.co_name == inner_name)
    _CODE_CACHE[code] = (inner, source)
    return inner, source


def convert(fn):
    """The converted version of ``fn`` (a function or a bound method), built
    once per code object; functions marked do_not_convert, nbflow's own,
    lambdas and generators come back unchanged."""
    if isinstance(fn, types.MethodType):
        converted = convert(fn.__func__)
        return fn if converted is fn.__func__ else types.MethodType(converted, fn.__self__)
    if not _is_convertible(fn):
        return fn
    hit = _FN_CACHE.get(fn)
    if hit is not None:
        return hit
    code, source = _convert_code(fn)
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    closure = tuple(types.CellType(operators) if name == "ag__" else cells[name] for name in code.co_freevars)
    converted = types.FunctionType(code, fn.__globals__, fn.__name__, fn.__defaults__, closure)
    converted.__kwdefaults__ = fn.__kwdefaults__
    converted.__dict__.update(fn.__dict__)
    functools.update_wrapper(converted, fn, updated=())
    del converted.__wrapped__
    converted.__qualname__ = fn.__qualname__
    setattr(converted, _CONVERTED, True)
    converted.ag_source = source
    converted.ag_original = fn
    _FN_CACHE[fn] = converted
    return converted


def to_graph(entity, recursive=True, experimental_optional_features=None):
    """``tf.autograph.to_graph``: the converted function (a method stays bound)."""
    if not callable(entity):
        raise TypeError("to_graph expects a function or method, got %r" % (entity,))
    fn = entity.__func__ if isinstance(entity, types.MethodType) else entity
    if not isinstance(fn, types.FunctionType):
        raise TypeError("to_graph expects a Python function or method, got %s" % type(entity).__name__)
    if getattr(fn, _DO_NOT_CONVERT, False):
        return entity
    return convert(entity) if _is_convertible(fn) or getattr(fn, _CONVERTED, False) else _force(entity)


def _force(entity):
    """to_graph/to_code of a function convert() would skip (nbflow's own)."""
    fn = entity.__func__ if isinstance(entity, types.MethodType) else entity
    if fn.__name__ == "<lambda>" or inspect.isgeneratorfunction(fn):
        raise ConversionError("autograph converts neither lambdas nor generators (%s)" % fn.__qualname__)
    return entity


def to_code(entity, recursive=True, experimental_optional_features=None):
    """``tf.autograph.to_code``: the converted function's source."""
    fn = entity.__func__ if isinstance(entity, types.MethodType) else entity
    fn = getattr(fn, "ag_original", fn)
    if not isinstance(fn, types.FunctionType):
        raise TypeError("to_code expects a Python function or method, got %s" % type(entity).__name__)
    _force(fn)
    return _convert_code(fn)[1]
