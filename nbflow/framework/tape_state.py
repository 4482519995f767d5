"""What GradientTape records (nbflow/autodiff/tape.py), kept below the ops so the eager
executor and eager variables can report to it: the stack of recording tapes and the
Operation-like record of each op run while one records."""

#: ids of the zeros a tape passes as the gradient of an unused output, while the gradient
#: function runs (as graph mode's ZerosLike: gradient functions may skip their work)
zero_fills = set()

#: the recording tapes, outermost first; ``_recording`` mirrors ``bool(_tapes)`` for the hot path
_tapes = []
_recording = False


def _refresh():
    global _recording
    _recording = bool(_tapes)


class TapeOp:
    """A recorded op, shaped like an Operation for the gradient functions."""

    __slots__ = ("op_def", "attrs", "name", "inputs", "outputs", "skip_input_indices")

    def __init__(self, op_def, attrs, name, inputs, outputs):
        self.op_def, self.attrs, self.name = op_def, attrs, name or op_def.type
        self.inputs, self.outputs = tuple(inputs), list(outputs)
        #: inputs whose gradient nobody needs (set by the tape before it calls the
        #: gradient function; TF's name): a gradient function may skip them
        self.skip_input_indices = ()

    @property
    def type(self):
        return self.op_def.type

    def get_attr(self, name):
        if name not in self.attrs:
            raise ValueError("Operation '%s' has no attr named '%s'." % (self.name, name))
        return self.attrs[name]

    @property
    def control_inputs(self):
        return []

    def __repr__(self):
        return "<recorded op %s>" % self.type


def record(op_def, attrs, name, inputs, outputs):
    """Called by the eager executor after each differentiable op while a tape records."""
    entry = None
    for tape in _tapes:
        watched = tape._watched
        for t in inputs:
            if id(t) in watched:
                break
        else:
            continue
        if True:
            if entry is None:
                entry = TapeOp(op_def, attrs, name, inputs, outputs)
            tape._entries.append(entry)
            for t in outputs:
                watched[id(t)] = t


def record_variable_read(var, tensor):
    """A variable read while tapes record: watched tapes see the read tensor as the variable."""
    for tape in _tapes:
        if id(var) in tape._watched_vars or (tape._watch_accessed and var.trainable):
            tape._watch_variable(var)
            tape._reads.setdefault(id(var), []).append(tensor)
            tape._watched[id(tensor)] = tensor


