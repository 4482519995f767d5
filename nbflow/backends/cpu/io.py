"""CPU kernels of the reader and CSV ops (nbflow/ops/io_ops.py).

TextLineReaderV2 creates the reader (a ReaderResource behind the op's handle);
ReaderReadV2 reaches it and the queue of file names through the handles of its
inputs 0 and 1, and takes the next name from that queue (waiting, as any
dequeue) when the current file is exhausted. DecodeCSV parses with Python's
csv module (strings are object arrays; there is no Numba loop to write).
"""
import csv

import numpy as np

from nbflow.backends.cpu.data_flow import take
from nbflow.backends.registry import register_kernel
from nbflow.framework import dtypes, errors
from nbflow.ops import io_ops
from nbflow.state.resources import ReaderResource


@register_kernel(io_ops.TextLineReaderV2)
def _text_line_reader_v2(ctx):
    skip = int(ctx.attrs.get("skip_header_lines", 0))
    ctx.resources.lookup_or_create(ctx.own_handle, lambda: ReaderResource(skip))
    handle = np.array(ctx.name, dtype=object)
    return lambda: handle


def _file_lines(path, skip):
    """(line number, line) of a text file, without line endings (\\n or \\r\\n), after ``skip`` lines."""
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the text after a final newline is not a line
    return [(i + 1, ln[:-1] if ln.endswith(b"\r") else ln) for i, ln in enumerate(lines) if i >= skip]


@register_kernel(io_ops.ReaderReadV2)
def _reader_read_v2(ctx):
    reader_handle, queue_handle = ctx.input_handles[0], ctx.input_handles[1]
    resources = ctx.resources

    def get(handle, what):
        res = resources.get(handle)
        if res is None:
            raise ctx.op_error(errors.NotFoundError, "%s '%s' does not exist" % (what, handle.name))
        return res

    def run(reader_ref, queue_ref):
        reader = get(reader_handle, "Reader")
        queue = get(queue_handle, "Queue")
        with reader.lock:
            while True:
                if reader.lines:
                    number, line = reader.lines.pop(0)
                    reader.records_produced += 1
                    key = np.array(reader.current + b":" + str(number).encode(), dtype=object)
                    return key, np.array(line, dtype=object)
                if reader.current is not None:
                    reader.work_units_completed += 1
                    reader.current = None
                (row,) = take(queue, 1, ctx, queue_handle.name)
                name = row[0].item() if isinstance(row[0], np.ndarray) else row[0]
                name = name if isinstance(name, bytes) else str(name).encode()
                try:
                    reader.lines = _file_lines(name.decode(), reader.skip_header_lines)
                except OSError as e:
                    raise ctx.op_error(errors.NotFoundError, "%s; No such file or directory" % name.decode()) \
                        if isinstance(e, FileNotFoundError) else ctx.op_error(errors.UnknownError, str(e))
                reader.current = name
    return run


def _parser(dtype, column, record_index):
    if dtype is dtypes.string:
        return lambda s: s.encode() if isinstance(s, str) else s
    kind = "float" if dtype.is_floating else "int"
    npd = dtype.as_numpy_dtype

    def parse(s, col=column):
        try:
            return npd(float(s)) if kind == "float" else npd(int(s))
        except ValueError:
            raise ValueError("Field %d in record %d is not a valid %s: %s" % (col, record_index[0], kind, s)) \
                from None
    return parse


@register_kernel(io_ops.DecodeCSV)
def _decode_csv(ctx):
    delim = ctx.attrs["field_delim"]
    quote = bool(ctx.attrs["use_quote_delim"])
    na_value = ctx.attrs.get("na_value", "")
    select_cols = ctx.attrs.get("select_cols")
    out_types = list(ctx.input_dtypes[1:])
    n_cols = len(out_types)
    record_index = [0]
    parsers = [_parser(dt, i, record_index) for i, dt in enumerate(out_types)]

    def run(records, *defaults):
        flat = records.reshape(-1)
        outs = [np.empty(flat.shape, dtype=object if dt is dtypes.string else dt.as_numpy_dtype)
                for dt in out_types]
        for r, rec in enumerate(flat):
            record_index[0] = r
            text = rec.decode("utf-8") if isinstance(rec, bytes) else str(rec)
            reader = csv.reader([text], delimiter=delim, quotechar='"' if quote else None,
                                quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE, strict=quote)
            try:
                fields = next(reader, [""])
            except csv.Error as e:
                raise ctx.op_error(errors.InvalidArgumentError, "Quoted field in record %d is malformed: %s"
                                   % (r, e)) from None
            if select_cols is not None:
                if len(fields) <= select_cols[-1]:
                    raise ctx.op_error(errors.InvalidArgumentError, "Expect %d fields but have %d in record %d"
                                       % (select_cols[-1] + 1, len(fields), r))
                fields = [fields[c] for c in select_cols]
            if len(fields) != n_cols:
                raise ctx.op_error(errors.InvalidArgumentError, "Expect %d fields but have %d in record %d"
                                   % (n_cols, len(fields), r))
            for c, (field, default, parse) in enumerate(zip(fields, defaults, parsers)):
                if field == "" or field == na_value:
                    if default.size == 0:
                        raise ctx.op_error(errors.InvalidArgumentError,
                                           "Field %d is required but missing in record %d!" % (c, r))
                    outs[c][r] = default.reshape(-1)[0]
                else:
                    try:
                        outs[c][r] = parse(field)
                    except ValueError as e:
                        raise ctx.op_error(errors.InvalidArgumentError, str(e)) from None
        shaped = tuple(o.reshape(records.shape) for o in outs)
        return shaped if n_cols > 1 else shaped[0]
    return run
