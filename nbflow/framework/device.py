"""Device strings as TensorFlow parses and merges them (DeviceSpec)."""
import re

_FIELD = re.compile(r"^(job|replica|task|device|cpu|gpu|CPU|GPU)(?::(.*))?$")


class DeviceSpec:
    """A (possibly partial) device name: /job:J/replica:R/task:T/device:TYPE:N."""

    __slots__ = ("job", "replica", "task", "device_type", "device_index")

    def __init__(self, job=None, replica=None, task=None, device_type=None, device_index=None):
        self.job = job
        self.replica = None if replica is None else int(replica)
        self.task = None if task is None else int(task)
        self.device_type = None if device_type is None else device_type.upper()
        self.device_index = None if device_index in (None, "*") else int(device_index)

    @classmethod
    def from_string(cls, spec):
        out = cls()
        if not spec:
            return out
        for part in spec.split("/"):
            if not part:
                continue
            pieces = part.split(":")
            key = pieces[0]
            if key == "job" and len(pieces) == 2:
                out.job = pieces[1]
            elif key == "replica" and len(pieces) == 2:
                out.replica = int(pieces[1])
            elif key == "task" and len(pieces) == 2:
                out.task = int(pieces[1])
            elif key == "device" and len(pieces) in (2, 3):
                out.device_type = pieces[1].upper()
                if len(pieces) == 3 and pieces[2] != "*":
                    out.device_index = int(pieces[2])
            elif key.upper() in ("CPU", "GPU") and len(pieces) in (1, 2):
                out.device_type = key.upper()
                if len(pieces) == 2 and pieces[1] != "*":
                    out.device_index = int(pieces[1])
            else:
                raise ValueError("Unknown attribute: '%s' in '%s'" % (part, spec))
        return out

    def merge_from(self, dev):
        """Fields set in ``dev`` override ours (inner scope wins)."""
        for f in self.__slots__:
            v = getattr(dev, f)
            if v is not None:
                setattr(self, f, v)

    def make_merged_spec(self, dev):
        out = DeviceSpec.from_string(self.to_string())
        out.merge_from(dev)
        return out

    def to_string(self):
        s = ""
        if self.job is not None:
            s += "/job:" + self.job
        if self.replica is not None:
            s += "/replica:%d" % self.replica
        if self.task is not None:
            s += "/task:%d" % self.task
        if self.device_type is not None:
            s += "/device:%s:%s" % (self.device_type, "*" if self.device_index is None else self.device_index)
        return s

    def __str__(self):
        return self.to_string()

    def __repr__(self):
        return "<DeviceSpec %s>" % self.to_string()

    def __eq__(self, other):
        return isinstance(other, DeviceSpec) and self.to_string() == other.to_string()

    def __hash__(self):
        return hash(self.to_string())


def canonical_name(device):
    if device is None:
        return ""
    if isinstance(device, DeviceSpec):
        return device.to_string()
    return DeviceSpec.from_string(device).to_string()


def merge_device(outer, inner):
    """The device string an op gets under nested ``tf.device`` scopes."""
    if not inner:
        return outer or ""
    spec = DeviceSpec.from_string(outer or "")
    spec.merge_from(DeviceSpec.from_string(inner))
    return spec.to_string()
