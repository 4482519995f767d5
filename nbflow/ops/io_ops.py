"""Reading records from files (TF 1.x's queue-based input): tf.TextLineReader and
tf.decode_csv.

A reader is a ReaderResource (nbflow/state/resources.py) behind the handle of
its TextLineReaderV2 op. ``reader.read(queue)`` (ReaderReadV2) returns the next
record as ``(key, value)`` strings, taking the next file name from ``queue``
(a FIFOQueue of strings, e.g. tf.train.string_input_producer's) when the
current file is exhausted; the key is ``"<file>:<line number>"``. DecodeCSV
parses CSV lines into one tensor per column. The kernels are in
nbflow/backends/cpu/io.py.
"""
from nbflow.framework import dtypes
from nbflow.framework.graph import Tensor, name_scope
from nbflow.framework.tensor_shape import TensorShape
from nbflow.ops.base import Op, apply_op, convert_to_tensor
from nbflow.state.resources import ResourceHandle

__all__ = ["ReaderBase", "TextLineReader", "decode_csv"]

_CSV_TYPES = (dtypes.float32, dtypes.float64, dtypes.int32, dtypes.int64, dtypes.string)


class TextLineReaderV2(Op):
    """A handle naming the reader (a 0-d string tensor)."""

    type = "TextLineReaderV2"
    stateful = True
    differentiable = False

    @classmethod
    def resource_handle(cls, op):
        return ResourceHandle("reader", op.attrs.get("container", ""), op.attrs.get("shared_name") or op.name)

    @classmethod
    def infer(cls, ctx):
        return [(dtypes.string, TensorShape([]))]


class ReaderReadV2(Op):
    """(key, value) of the next record; inputs: the reader's handle and the queue's."""

    type = "ReaderReadV2"
    stateful = True
    differentiable = False
    resource_inputs = (0, 1)

    @classmethod
    def infer(cls, ctx):
        return [(dtypes.string, TensorShape([])), (dtypes.string, TensorShape([]))]


class DecodeCSV(Op):
    """Inputs: records (strings) and one default per column (a vector of 0 or 1
    element: empty means the column is required); one output per column, shaped
    like the records."""

    type = "DecodeCSV"
    differentiable = False

    @classmethod
    def infer(cls, ctx):
        if ctx.input_dtypes[0] is not dtypes.string:
            raise TypeError("Input 'records' of 'DecodeCSV' Op has type %s that does not match expected type of "
                            "string." % ctx.input_dtypes[0].name)
        shape = ctx.input_shapes[0]
        outs = []
        for i, (dt, s) in enumerate(zip(ctx.input_dtypes[1:], ctx.input_shapes[1:])):
            if dt not in _CSV_TYPES:
                raise TypeError("record_defaults[%d] has type %s; DecodeCSV takes float32, float64, int32, int64 "
                                "or string" % (i, dt.name))
            if s.ndims is not None and s.ndims > 1:
                raise ctx.error("Shape must be at most rank 1 but is rank %d for record_defaults[%d]" % (s.ndims, i))
            d = s.as_list()[0] if s.ndims == 1 else None
            if d is not None and d > 1:
                raise ctx.error("Shape of a default must be a length-0 or length-1 vector, or a scalar.")
            outs.append((dt, shape))
        return outs


class ReaderBase:
    """The Python reader: ``read(queue)`` builds its ReaderReadV2 op."""

    def __init__(self, reader_ref, supports_serialize=False):
        self._reader_ref = reader_ref
        self._supports_serialize = supports_serialize

    @property
    def reader_ref(self):
        return self._reader_ref

    @property
    def supports_serialize(self):
        return self._supports_serialize

    def read(self, queue, name=None):
        """(key, value) of the next record, taking file names from ``queue`` (a queue or its handle)."""
        queue_ref = queue if isinstance(queue, Tensor) else queue.queue_ref
        key, value = apply_op(ReaderReadV2, [self._reader_ref, queue_ref], {}, name=name or "ReaderReadV2")
        return key, value

    def _not_implemented(self, what):
        raise NotImplementedError("%s.%s is not implemented in nbflow (only read)" % (type(self).__name__, what))

    def read_up_to(self, queue, num_records, name=None):
        self._not_implemented("read_up_to")

    def num_records_produced(self, name=None):
        self._not_implemented("num_records_produced")

    def num_work_units_completed(self, name=None):
        self._not_implemented("num_work_units_completed")

    def serialize_state(self, name=None):
        self._not_implemented("serialize_state")

    def restore_state(self, state, name=None):
        self._not_implemented("restore_state")

    def reset(self, name=None):
        self._not_implemented("reset")


class TextLineReader(ReaderBase):
    """``tf.TextLineReader(skip_header_lines=None, name=None)``: the lines of each file
    (without the line ending), skipping the first ``skip_header_lines`` of each."""

    def __init__(self, skip_header_lines=None, name=None):
        ref = apply_op(TextLineReaderV2, [], {"skip_header_lines": int(skip_header_lines or 0), "container": "",
                                             "shared_name": ""}, name=name or "TextLineReaderV2")
        super().__init__(ref)


def decode_csv(records, record_defaults, field_delim=",", use_quote_delim=True, name=None, na_value="",
               select_cols=None):
    """One tensor per column of the CSV lines ``records``, typed and defaulted by
    ``record_defaults`` (a list with one entry per column: ``[0.0]``, ``[0]``,
    ``[""]``, or an empty list for a required column)."""
    if select_cols is not None:
        select_cols = [int(c) for c in select_cols]
        if any(b <= a for a, b in zip(select_cols, select_cols[1:])):
            raise ValueError("select_cols is not strictly increasing.")
        if select_cols and select_cols[0] < 0:
            raise ValueError("select_cols contains negative values.")
        if len(select_cols) != len(record_defaults):
            raise ValueError("Length of select_cols and record_defaults do not match.")
    if len(field_delim) != 1:
        raise ValueError("field_delim should be only 1 char")
    with name_scope(name, "DecodeCSV", [records]) as scope:
        records = convert_to_tensor(records, dtype=dtypes.string, name="records")
        defaults = []
        for i, d in enumerate(record_defaults):
            defaults.append(d if isinstance(d, Tensor) else convert_to_tensor(d, name="record_defaults_%d" % i))
        attrs = {"field_delim": field_delim, "use_quote_delim": bool(use_quote_delim), "na_value": na_value,
                 "select_cols": select_cols, "OUT_TYPE": [d.dtype for d in defaults]}
        outs = apply_op(DecodeCSV, [records] + defaults, attrs, name=scope)
        return list(outs) if isinstance(outs, (list, tuple)) else [outs]
