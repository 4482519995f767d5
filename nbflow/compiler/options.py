"""Which optimizer passes run. Every pass can be switched off, with results unchanged.

- environment: ``NBFLOW_DISABLE_PASSES=fusion,fold`` (passes: fold, cse, identity, fusion, memory)
- per session: ``tf.ConfigProto(nbflow_disabled_passes=["fusion"])``
"""
import os

PASSES = ("fold", "cse", "identity", "fusion", "memory")


class CompilerOptions:
    __slots__ = ("disabled",)

    def __init__(self, disabled=()):
        unknown = set(disabled) - set(PASSES)
        if unknown:
            raise ValueError("Unknown optimizer pass(es) %s; known passes: %s"
                             % (", ".join(sorted(unknown)), ", ".join(PASSES)))
        self.disabled = frozenset(disabled)

    @classmethod
    def from_config(cls, config):
        disabled = [p.strip() for p in os.environ.get("NBFLOW_DISABLE_PASSES", "").split(",") if p.strip()]
        disabled += list(getattr(config, "nbflow_disabled_passes", None) or ())
        return cls(disabled)
