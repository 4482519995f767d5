"""What the compiler passes work on: a :class:`Program` and its typed run units.

A Program is one Session.run's computation being compiled: the fetched
elements and fed tensors, then -- pass by pass -- the pruned ops, their
placement, a *slot* per value (its concrete shape, its value when known
before running, the device holding it), the run units, their order, the
memory plan, the bound kernels and finally the generated step function.

Run units are what a step runs, each of one type:

- :class:`KernelUnit`: one op, run by the kernel registered for its device;
- :class:`TransferUnit`: a copy of one value between devices;
- ``fusion.Group``: several element-wise ops, run as one generated kernel.

Each has ``io()``: (input slots, output slots, outputs may alias inputs).
"""
from nbflow.framework import errors
from nbflow.framework.graph import Tensor


class KernelUnit:
    """One op run by its registered kernel: ``ctx`` is its KernelContext."""

    __slots__ = ("op", "ctx", "ins", "outs")

    def __init__(self, op, ctx, ins, outs):
        self.op, self.ctx, self.ins, self.outs = op, ctx, ins, outs

    def io(self):
        return self.ins, self.outs, self.op.op_def.outputs_alias_inputs


class TransferUnit:
    """A copy of one value between devices (a run unit, not a graph op)."""

    type = "_Transfer"
    inputs = ()
    control_inputs = ()
    outputs = ()

    def __init__(self, src, dst, src_slot, dst_slot, shape=None, dtype=None):
        self.src_slot, self.dst_slot = src_slot, dst_slot
        self.src, self.dst = src, dst
        self.name = "transfer %s -> %s" % (src.name, dst.name)
        # the device that is not the host does the copy (it may preallocate its buffers)
        if dst.is_host and not src.is_host and hasattr(src, "copier_to_host"):
            self.copy = src.copier_to_host(shape, dtype)
        else:
            self.copy = dst.copier_from(src, shape, dtype)

    def io(self):
        return (self.src_slot,), (self.dst_slot,), True


class Program:
    """The state the passes transform, from fetches and feeds to a step function."""

    def __init__(self, elements, feeds, env, options, io_device=None):
        #: fetched Tensors and Operations (an Operation fetches None)
        self.elements = list(elements)
        self.fetch_tensors = [e for e in self.elements if isinstance(e, Tensor)]
        self.target_ops = [e for e in self.elements if not isinstance(e, Tensor)]
        #: (tensor, numpy dtype, shape) per fed value, in the order values are given
        self.feeds = list(feeds)
        self.env = env
        self.options = options
        #: where fed values arrive and fetched values are returned: the host, or the device
        #: of the If / While running this plan as a sub-plan (its values stay there)
        self.io_device = io_device
        #: pass name -> lines saying what it did (shown by nbflow.explain)
        self.log = {}
        # filled in by the passes, in order:
        self.ops = []            # prune: the ops to run, topologically ordered
        self.placement = {}      # place: op -> Device
        self.slot_of = {}        # resolve: tensor -> slot
        self.slot_shapes = []    # slot -> TensorShape (concrete where known)
        self.initial = []        # slot -> value known before running (folded), else None
        self.slot_device = []    # slot -> Device holding the value
        self.slot_dtypes = []    # slot -> DType of the value (None when not known)
        self.transfer_slot = {}  # (slot, device) -> the slot of its copy on that device
        self.alias_op = {}       # ops that run as another op (CSE) or not at all (forwarded)
        self.units = []          # run units in topological order
        self.prechecks = []      # callables run before any kernel
        self.feed_slots = []
        self.fetch_slots = []    # per element: its slot on the host, -1 for an Operation
        self.groups = {}         # fusion: op -> its Group
        self.fused_groups = []
        self.schedule = []       # order: the units (groups as one) in run order
        self.memory = None       # memory: the BufferPlanner
        self.steps = []          # bind: (kernel, input slots, output slot(s), number of outputs)
        self.step_ops = []       # the op (or unit) each step runs, for errors and explain
        self.fetch_is_fresh = []
        self.step = None         # emit: step(*feed values) -> fetched values
        self.step_source = None

    @property
    def host(self):
        return self.env.devices[0]

    @property
    def io(self):
        """The device holding fed and fetched values (``io_device``, else the host)."""
        return self.io_device if self.io_device is not None else self.host

    def note(self, pass_name, line):
        self.log.setdefault(pass_name, []).append(line)

    def new_slot(self, shape, value, device, tensor=None, dtype=None):
        sl = len(self.slot_shapes)
        if tensor is not None:
            self.slot_of[tensor] = sl
            dtype = tensor.dtype
        self.slot_dtypes.append(dtype)
        self.slot_shapes.append(shape)
        self.initial.append(value)
        self.slot_device.append(device)
        return sl

    def slot_dtype(self, slot):
        """The numpy dtype of a slot's value when known (for preallocated copies), else None."""
        d = self.slot_dtypes[slot]
        try:
            return d.as_numpy_dtype if d is not None else None
        except (AttributeError, TypeError):
            return None

    def slots_on(self, device):
        """``tensor -> slot`` of its value on ``device``: its copy there if the
        transfer pass made one, else its own slot (what a fused group reads)."""
        return _SlotsOn(self.slot_of, self.transfer_slot, device)

    def on_device(self, slot, device):
        """The slot holding ``slot``'s value on ``device`` (adding a copy when needed)."""
        src = self.slot_device[slot]
        if src is device:
            return slot
        key = (slot, device)
        if key not in self.transfer_slot:
            value = self.initial[slot]
            if value is not None:  # a constant: copy it once, now
                try:
                    copied = device.from_host(src.to_host(value))
                except MemoryError as e:  # the device is full (or its gpu_options cap reached)
                    raise self._out_of_memory(slot, device, e) from e
                t = self.new_slot(self.slot_shapes[slot], copied, device, dtype=self.slot_dtypes[slot])
            else:
                t = self.new_slot(self.slot_shapes[slot], None, device, dtype=self.slot_dtypes[slot])
                shape = self.slot_shapes[slot]
                shape = shape.as_tuple() if shape.is_fully_defined() else None
                self.units.append(TransferUnit(src, device, slot, t, shape, self.slot_dtype(slot)))
                self.note("transfer", "copy of slot %d: %s -> %s" % (slot, src.name, device.name))
            self.transfer_slot[key] = t
        return self.transfer_slot[key]


    def _out_of_memory(self, slot, device, exc):
        op = next((t.op for t, s in self.slot_of.items() if s == slot), None)
        name, op_type = (op.name, op.type) if op is not None else ("?", "?")
        return errors.ResourceExhaustedError(
            None, op, "OOM when copying the constant output of %s to %s (%s)\n\t [[node %s (defined as %s)]]"
            % (name, device.name, exc, name, op_type))


class _SlotsOn:
    __slots__ = ("slot_of", "transfer_slot", "device")

    def __init__(self, slot_of, transfer_slot, device):
        self.slot_of, self.transfer_slot, self.device = slot_of, transfer_slot, device

    def __getitem__(self, tensor):
        sl = self.slot_of[tensor]
        return self.transfer_slot.get((sl, self.device), sl)

    def __contains__(self, tensor):
        return tensor in self.slot_of


class CompileEnv:
    """What the compiler needs from its caller: devices, config, resources, sub-plans."""

    __slots__ = ("devices", "config", "resources", "make_plan", "outer_placement")

    def __init__(self, devices, config, resources, make_plan, outer_placement=None):
        #: the devices ops may be placed on, the host first
        self.devices = devices
        self.config = config
        #: the ResourceManager kernels reach variables, random streams and queues in
        self.resources = resources
        #: ``make_plan(elements, feeds, device=None)``: a compiled plan of a sub-computation,
        #: its feeds and fetches on ``device`` (None: the host)
        self.make_plan = make_plan
        #: a sub-plan's: op -> Device of the enclosing plans' ops (a body updating a variable
        #: from outside runs where that variable is), else None
        self.outer_placement = outer_placement
