"""Printing ops: ``tf.print`` (TF 2's StringFormat + PrintV2) and ``tf.Print`` (TF 1).

``tf.print(*inputs)`` builds the same two ops as TF. Python values and the
structure of nested inputs (lists, tuples, dicts of tensors) are known when the
graph is built, so they go into StringFormat's ``template`` attr, with a
``placeholder`` string standing for each tensor; the tensors are its inputs and
are formatted when the op runs (``summarize`` elements at each end of every
dimension, numpy-like: ``[1 2 ... 9 10]``). StringFormat's 0-d string output
feeds PrintV2, which writes it and ``end`` to ``output_stream`` (``"stdout"``,
``"stderr"``, ``"log(info)"``, ``"log(warning)"``, ``"log(error)"`` or
``"file://<path>"``, appended to). In graph mode ``tf.print`` returns the
PrintV2 operation: run it, or make other ops depend on it.

``tf.Print(input_, data)`` is TF 1's: one op whose output is ``input_`` and
which writes ``message`` and each of ``data`` (``[...]`` each, TF 1's older
format) to stderr when it runs, the first ``first_n`` times in a session.

The formatting itself (TF's ``Tensor::SummarizeValue``) is the kernels'
(nbflow/backends/cpu/logging.py).
"""
import os
import pprint
import random
import sys

from nbflow.framework import dtypes, nest
from nbflow.framework.graph import Tensor
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops import base
from nbflow.ops.base import Op, apply_op, convert_to_tensor
from nbflow.ops.gradient_registry import RegisterGradient

__all__ = ["Print", "print_v2", "string_format"]

#: PrintV2's output_stream attr values other than "file://<path>".
OUTPUT_STREAMS = ("stdout", "stderr", "log(info)", "log(warning)", "log(error)")

# The streams as they were when nbflow was imported (tf.print's default argument), so a
# default bound then still means stderr after a test harness replaces sys.stderr.
_IMPORT_STDOUT, _IMPORT_STDERR = sys.stdout, sys.stderr


class StringFormat(Op):
    """StringFormat(inputs...): attrs template, placeholder, summarize. A 0-d
    string: ``template`` with its i-th ``placeholder`` replaced by input i,
    summarized."""

    type = "StringFormat"
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        pieces = ctx.attrs["template"].split(ctx.attrs["placeholder"])
        if len(pieces) - 1 != len(ctx.input_dtypes):
            raise ctx.error("num placeholders in template and num inputs must match: %d vs. %d"
                            % (len(pieces) - 1, len(ctx.input_dtypes)))
        return [(dtypes.string, TensorShape([]))]


class PrintV2(Op):
    """PrintV2(input): attrs output_stream, end. Writes the 0-d string ``input``
    followed by ``end``; no outputs."""

    type = "PrintV2"
    stateful = True
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        if ctx.input_dtypes[0] is not dtypes.string:
            raise TypeError("Input 'input' of 'PrintV2' Op (%s) has type %s that does not match expected type "
                            "of string." % (ctx.name, ctx.input_dtypes[0].name))
        if not ctx.input_shapes[0].is_compatible_with(TensorShape([])):
            raise ctx.error("Input is expected to be scalar, but got %s" % ctx.input_shapes[0])
        stream = ctx.attrs["output_stream"]
        if stream not in OUTPUT_STREAMS and not stream.startswith("file://"):
            raise ctx.error("output_stream '%s' is not in %s, and does not start with file://"
                            % (stream, ", ".join(OUTPUT_STREAMS)))
        return []


class PrintOp(Op):
    """Print(input, data...): attrs message, first_n, summarize. Output 0 is
    ``input``; running it writes ``message`` then ``[value]`` for each of
    ``data`` to stderr (the first ``first_n`` runs when ``first_n >= 0``)."""

    type = "Print"
    stateful = True  # it must run (and count) every step: never folded, merged or forwarded

    @classmethod
    def infer(cls, ctx):
        return [(ctx.input_dtypes[0], ctx.input_shapes[0])]


@RegisterGradient("Print")
def _print_grad(op, grad):
    return [grad] + [None] * (len(op.inputs) - 1)


def _is_tensor(x):
    """TF's ``is_tf_type``: Tensors, and objects converted to them (Variables)."""
    if isinstance(x, Tensor):
        return True
    return any(isinstance(x, cls) for cls, _ in base._conversion_hooks)


def _placeholder_for(text):
    """A placeholder string not found in ``text`` (TF's choice: "{}", then digits appended)."""
    placeholder = "{}"
    rng = random.Random(5)
    while placeholder in text:
        placeholder += str(rng.randint(0, 9))
    return placeholder


def _stream_attr(output_stream):
    for stdout in (sys.stdout, sys.__stdout__, _IMPORT_STDOUT):
        if output_stream is stdout and stdout is not None:
            return "stdout"
    for stderr in (sys.stderr, sys.__stderr__, _IMPORT_STDERR):
        if output_stream is stderr and stderr is not None:
            return "stderr"
    # tf.logging's levels (logging.INFO, ...) and its functions (tf.logging.info, ...)
    levels = {20: "log(info)", 30: "log(warning)", 40: "log(error)"}
    if isinstance(output_stream, int) and not isinstance(output_stream, bool) and output_stream in levels:
        return levels[output_stream]
    if callable(output_stream) and getattr(output_stream, "__module__", "") == "nbflow.platform.tf_logging":
        name = getattr(output_stream, "__name__", "")
        by_name = {"info": "log(info)", "warning": "log(warning)", "warn": "log(warning)", "error": "log(error)"}
        if name in by_name:
            return by_name[name]
    if isinstance(output_stream, str) and output_stream.startswith("file://"):
        return output_stream
    raise ValueError(
        "Unsupported output stream, logging level, or file." + str(output_stream) + ". Supported streams are "
        "sys.stdout, sys.stderr, tf.logging.info, tf.logging.warning, tf.logging.error. File needs to be in the "
        "form of 'file://<filepath>'.")


def string_format(template, inputs, placeholder="{}", summarize=3, name=None):
    """TF's ``tf.strings.format``: a 0-d string tensor, ``template`` with each
    ``placeholder`` replaced by the next of ``inputs``, summarized."""
    if _is_tensor(inputs):
        inputs = [inputs]
    tensors = [convert_to_tensor(t) for t in inputs]
    return apply_op(StringFormat, tensors,
                    {"template": str(template), "placeholder": str(placeholder),
                     "summarize": 3 if summarize is None else int(summarize)},
                    name=name or "StringFormat")


def print_v2(*inputs, **kwargs):
    """``tf.print(*inputs, output_stream=sys.stderr, sep=' ', end=os.linesep, summarize=3, name=None)``.

    Tensors are printed numpy-like (``[1 2 3]``; a 0-d tensor bare; string
    elements quoted), ``summarize`` elements at each end of each dimension
    (``-1``: all); Python values as ``pprint`` shows them, strings as they are;
    lists, tuples and dicts of tensors with the tensors formatted in place. One
    0-d string tensor alone is printed as it is. Returns the PrintV2 operation.
    """
    output_stream = kwargs.pop("output_stream", _IMPORT_STDERR)
    name = kwargs.pop("name", None)
    summarize = kwargs.pop("summarize", 3)
    sep = kwargs.pop("sep", " ")
    end = kwargs.pop("end", os.linesep)
    if kwargs:
        raise ValueError("Unrecognized keyword arguments for tf.print: %s" % kwargs)
    stream = _stream_attr(output_stream)
    if not isinstance(sep, str) or not isinstance(end, str):
        raise TypeError("tf.print's sep and end must be strings, got %r and %r" % (sep, end))
    if summarize is None:
        summarize = 3
    if (len(inputs) == 1 and _is_tensor(inputs[0]) and convert_to_tensor(inputs[0]).dtype is dtypes.string
            and convert_to_tensor(inputs[0]).shape.ndims == 0):
        formatted = convert_to_tensor(inputs[0])
    else:
        tensor_free = nest.map_structure(lambda x: "" if _is_tensor(x) else x, list(inputs))
        placeholder = _placeholder_for(" ".join(pprint.pformat(x) for x in tensor_free))
        templates, tensors = [], []
        for input_ in inputs:
            if isinstance(input_, str):
                templates.append(input_)  # a Python string is printed as it is
                continue
            slots = []
            for x in nest.flatten(input_):
                if _is_tensor(x):
                    tensors.append(convert_to_tensor(x))
                    slots.append(placeholder)
                else:
                    slots.append(x)
            if _is_tensor(input_):
                templates.append(placeholder)
            else:
                templates.append(pprint.pformat(nest.pack_sequence_as(input_, slots)))
        # pformat quotes the placeholders inside structures; the tensors' values are not quoted.
        template = sep.join(templates).replace("'" + placeholder + "'", placeholder)
        formatted = string_format(template, tensors, placeholder=placeholder, summarize=summarize,
                                  name=name + "_format" if name else None)
    return apply_op(PrintV2, [formatted], {"output_stream": stream, "end": end}, name=name or "PrintV2")


def Print(input_, data, message=None, first_n=None, summarize=None, name=None):  # noqa: N802  (TF's name)
    """TF 1's ``tf.Print``: the identity of ``input_`` that writes ``message``
    and each of ``data`` to stderr when it runs (deprecated in TF in favour of
    ``tf.print``)."""
    x = convert_to_tensor(input_)
    data = [convert_to_tensor(d) for d in (data or [])]
    attrs = {"message": "" if message is None else str(message),
             "first_n": -1 if first_n is None else int(first_n),
             "summarize": 3 if summarize is None else int(summarize)}
    return apply_op(PrintOp, [x] + data, attrs, name=name or "Print")
