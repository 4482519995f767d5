"""tf.compat: ``tf.compat.v1`` is nbflow itself (it follows TF 1.15)."""
import sys


def __getattr__(name):
    if name == "v1":
        return sys.modules["nbflow"]
    raise AttributeError(name)


def as_bytes(bytes_or_text, encoding="utf-8"):
    if isinstance(bytes_or_text, str):
        return bytes_or_text.encode(encoding)
    return bytes(bytes_or_text)


def as_text(bytes_or_text, encoding="utf-8"):
    if isinstance(bytes_or_text, bytes):
        return bytes_or_text.decode(encoding)
    return str(bytes_or_text)


as_str = as_text
