"""``tf.keras.initializers`` (TF 2 flavour): classes called as ``init(shape, dtype=None)``.

The random ones are TF 1's initializers (nbflow/ops/init_ops.py: the same
random ops and seeding) with Keras' defaults (RandomUniform(-0.05, 0.05),
RandomNormal(0, 0.05), TruncatedNormal(0, 0.05)) and configs without a dtype.
``Orthogonal`` draws its normal matrix with numpy (nbflow has no QR op): seeded
by ``seed`` when given, else by numpy's global generator.
"""
import numpy as np

from nbflow.framework import dtypes
from nbflow.ops import init_ops
from nbflow.ops import constant_op

__all__ = ["Initializer", "Zeros", "Ones", "Constant", "RandomUniform", "RandomNormal", "TruncatedNormal",
           "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal",
           "LecunUniform", "Orthogonal", "Identity", "get", "serialize", "deserialize"]

Initializer = init_ops.Initializer


def _dtype(dtype):
    from nbflow.keras import backend
    return dtypes.as_dtype(dtype if dtype is not None else backend.floatx())


def _no_dtype(cls):
    """The Keras form of a TF 1 initializer class: dtype at call time (default floatx), config without it."""

    class KerasInitializer(cls):
        def __call__(self, shape, dtype=None, **kwargs):
            return cls.__call__(self, shape, dtype=_dtype(dtype))

        def get_config(self):
            config = dict(cls.get_config(self))
            config.pop("dtype", None)
            return config

    KerasInitializer.__name__ = KerasInitializer.__qualname__ = cls.__name__
    return KerasInitializer


Zeros = _no_dtype(init_ops.Zeros)
Ones = _no_dtype(init_ops.Ones)
Constant = _no_dtype(init_ops.Constant)
GlorotUniform = _no_dtype(init_ops.GlorotUniform)
GlorotNormal = _no_dtype(init_ops.GlorotNormal)
VarianceScaling = _no_dtype(init_ops.VarianceScaling)


class RandomUniform(_no_dtype(init_ops.RandomUniform)):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(minval=minval, maxval=maxval, seed=seed)


class RandomNormal(_no_dtype(init_ops.RandomNormal)):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(mean=mean, stddev=stddev, seed=seed)


class TruncatedNormal(_no_dtype(init_ops.TruncatedNormal)):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(mean=mean, stddev=stddev, seed=seed)


def _scaling(name, scale, mode, distribution):
    class Scaling(VarianceScaling):
        def __init__(self, seed=None):
            super().__init__(scale=scale, mode=mode, distribution=distribution, seed=seed)

        def get_config(self):
            return {"seed": self.seed}

    Scaling.__name__ = Scaling.__qualname__ = name
    return Scaling


HeNormal = _scaling("HeNormal", 2.0, "fan_in", "truncated_normal")
HeUniform = _scaling("HeUniform", 2.0, "fan_in", "uniform")
LecunNormal = _scaling("LecunNormal", 1.0, "fan_in", "truncated_normal")
LecunUniform = _scaling("LecunUniform", 1.0, "fan_in", "uniform")


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times ``gain``, from the QR decomposition of a
    normal matrix (Saxe et al.), flattened to [prod(shape[:-1]), shape[-1]]."""

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        self.seed = seed

    def __call__(self, shape, dtype=None, **kwargs):
        dtype = _dtype(dtype)
        shape = [int(d) for d in shape]
        if len(shape) < 2:
            raise ValueError("The tensor to initialize must be at least two-dimensional")
        rows = int(np.prod(shape[:-1]))
        cols = shape[-1]
        rng = np.random.default_rng(self.seed) if self.seed is not None else np.random
        a = rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        value = (self.gain * q).reshape(shape).astype(dtype.as_numpy_dtype)
        return constant_op.constant(value, dtype=dtype)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only)."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None, **kwargs):
        dtype = _dtype(dtype)
        if len(shape) != 2:
            raise ValueError("Identity matrix initializer can only be used for 2D matrices.")
        value = self.gain * np.eye(int(shape[0]), int(shape[1]))
        return constant_op.constant(value.astype(dtype.as_numpy_dtype), dtype=dtype)

    def get_config(self):
        return {"gain": self.gain}


_CLASSES = {c.__name__: c for c in (Zeros, Ones, Constant, RandomUniform, RandomNormal, TruncatedNormal,
                                    VarianceScaling, GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal,
                                    LecunUniform, Orthogonal, Identity)}
_ALIASES = {"zeros": Zeros, "zero": Zeros, "ones": Ones, "one": Ones, "constant": Constant,
            "uniform": RandomUniform, "random_uniform": RandomUniform, "normal": RandomNormal,
            "random_normal": RandomNormal, "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
            "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_normal": HeNormal,
            "he_uniform": HeUniform, "lecun_normal": LecunNormal, "lecun_uniform": LecunUniform,
            "orthogonal": Orthogonal, "identity": Identity}
# lowercase function-style names, as tf.keras.initializers.glorot_uniform(seed=...)
zeros, ones, constant = Zeros, Ones, Constant
glorot_uniform, glorot_normal, he_normal, he_uniform = GlorotUniform, GlorotNormal, HeNormal, HeUniform
lecun_normal, lecun_uniform, orthogonal, identity = LecunNormal, LecunUniform, Orthogonal, Identity
random_uniform, random_normal, truncated_normal = RandomUniform, RandomNormal, TruncatedNormal


def serialize(initializer):
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}


def deserialize(config, custom_objects=None):
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name) or _ALIASES.get(name)
    if cls is None:
        raise ValueError("Unknown initializer: %s" % name)
    return cls(**config.get("config", {}))


def get(identifier):
    """None -> None; a name ('glorot_uniform', 'GlorotUniform') -> a new instance; a
    config dict -> deserialized; a callable -> itself."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _CLASSES.get(identifier) or _ALIASES.get(identifier)
        if cls is None:
            raise ValueError("Unknown initializer: %s" % identifier)
        return cls()
    if callable(identifier):
        return identifier
    raise ValueError("Could not interpret initializer identifier: %r" % (identifier,))
