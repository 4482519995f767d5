"""``tf.autograph``: Python control flow over tensors becomes graph control flow.

``convert(fn)`` rewrites a function's source (``if``/``while``/``for``,
``break``/``continue``/``return`` inside them, ``and``/``or``/``not``) into
calls of runtime dispatchers that build tf.cond / tf.while_loop when the
condition is a symbolic tensor and run plain Python otherwise. tf.function
calls it before tracing. See docs/ARCHITECTURE.md, AutoGraph.
"""
from nbflow.autograph import experimental
from nbflow.autograph.api import ConversionError, convert, do_not_convert, to_code, to_graph
from nbflow.autograph.tensors import is_symbolic

__all__ = ["ConversionError", "convert", "do_not_convert", "experimental", "is_symbolic", "to_code", "to_graph"]
