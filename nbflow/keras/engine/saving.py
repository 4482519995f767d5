"""``Model.save_weights`` / ``load_weights``: TF 2's object-based weight checkpoints.

Keys follow the object graph (nbflow/train/tracking.py, ``tf.train.Checkpoint``'s):
a model's children are ``layer_with_weights-<i>`` (the layers holding weights, in
``model.layers`` order) and ``layer-<i>`` (every layer) for Sequential/functional
models, their attributes for subclassed ones (the optimizer and compile state are
not saved); a layer's children are its attributes (``kernel``, ``bias``, sublayers).
So ``layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE``, as TF.

The files are nbflow's checkpoint files (``<path>.npz`` + ``<path>.index``) written by
``checkpoint_io.write_checkpoint_files`` as the Saver writes them: fsync'ed temp
files renamed into place, the index last, under the directory's lock -- a write
that fails leaves the previous checkpoint loadable, never a torn file. A
``tf.train.Checkpoint(model=...)`` file is not the same layout (its keys start with
``model/``); ``tf.train.Checkpoint(root=model)`` writes the same keys plus
``save_counter``. ``.h5`` (HDF5) raises NotImplementedError. Works eagerly and in a
TF 1 graph (values through the default Session).
"""
import os

import numpy as np

from nbflow.framework import dtypes, errors
from nbflow.keras import backend
from nbflow.train import tracking
from nbflow.train.checkpoint_io import (
    INDEX_SUFFIX, CheckpointReader, _dir_lock, _remove_debris, write_checkpoint_files,
)

__all__ = ["trackable_children", "save_weights", "load_weights", "save_model_weights"]

_H5 = (".h5", ".hdf5", ".keras")


def trackable_children(model):
    if getattr(model, "_is_graph_network", False) or type(model).__name__ == "Sequential":
        out = {}
        with_weights = [l for l in model.layers if l.weights]
        for i, layer in enumerate(with_weights):
            out["layer_with_weights-%d" % i] = layer
        for i, layer in enumerate(model.layers):
            out["layer-%d" % i] = layer
        return out
    children = {}
    for k, v in sorted(vars(model).items()):
        if k in ("optimizer", "_name", "_name_scope", "loss", "history") or k.startswith("_compiled") \
                or k.startswith("_graph_predict") or k.endswith("_function"):
            continue
        children[k] = v
    return children


def _is_h5(filepath, save_format):
    if save_format is not None:
        fmt = save_format.lower().strip()
        if fmt in ("h5", "keras", "hdf5"):
            return True
        if fmt not in ("tf", "tensorflow"):
            raise ValueError("Unknown format. Received: `save_format`=%s. Was expecting one of {\"tf\", \"h5\"}."
                             % save_format)
        return False
    return filepath.endswith(_H5)


def _variables_by_key(model):
    out = {}
    for path, obj in tracking.walk(model):
        if tracking.is_variable(obj):
            out[tracking.variable_key(path)] = obj
    missing = [w for w in model.weights if not any(w is v for v in out.values())]
    if missing:
        raise ValueError("Weights %s of %s are not reachable as attributes of its layers; cannot key them in a "
                         "checkpoint" % ([w.name for w in missing], model.name))
    return out


def save_weights(model, filepath, overwrite=True, save_format=None):
    filepath = os.fspath(filepath)
    if _is_h5(filepath, save_format):
        raise NotImplementedError("Saving weights in HDF5 format (%s) is not supported by nbflow: h5py is not a "
                                  "dependency. Use the TensorFlow checkpoint format (a path without .h5)." % filepath)
    if not overwrite and os.path.isfile(filepath + INDEX_SUFFIX):
        raise FileExistsError("%s exists and overwrite=False" % filepath)
    variables = _variables_by_key(model)
    values = backend.batch_get_value(list(variables.values()))
    arrays, entries = {}, []
    for i, (key, value) in enumerate(zip(variables, values)):
        a = np.ascontiguousarray(value)
        arrays["t%d" % i] = a
        entries.append({"name": key, "key": "t%d" % i, "dtype": dtypes.as_dtype(a.dtype).name,
                        "shape": list(a.shape)})
    parent = os.path.dirname(filepath)
    if parent and not os.path.isdir(parent):
        os.makedirs(parent, exist_ok=True)
    with _dir_lock(parent) as locked:
        if locked:
            _remove_debris(parent or ".", os.path.basename(filepath))
        write_checkpoint_files(filepath, arrays, entries, {"object_graph": True})


def load_weights(model, filepath, by_name=False, skip_mismatch=False):
    filepath = os.fspath(filepath)
    if by_name:
        raise NotImplementedError("load_weights(by_name=True) applies to HDF5 files only (not supported by nbflow)")
    if _is_h5(filepath, None):
        raise NotImplementedError("Loading HDF5 weights (%s) is not supported by nbflow" % filepath)
    if not os.path.isfile(filepath + INDEX_SUFFIX):
        hint = " (a directory: pass its checkpoint prefix)" if os.path.isdir(filepath) else ""
        raise errors.NotFoundError(None, None, "Failed to find any matching files for %s%s" % (filepath, hint))
    reader = CheckpointReader(filepath)
    problem = reader._data_problem()
    if problem is not None:
        raise problem
    shapes = reader.get_variable_to_shape_map()
    if not model.built or not model.weights:
        raise ValueError("Unable to load weights into %s: the model has not been built (no weights yet). Call it on "
                         "data or build() it first." % model.name)
    pairs = []
    for key, var in _variables_by_key(model).items():
        if key not in shapes:
            if skip_mismatch:
                continue
            raise errors.NotFoundError(None, None, "Key %s (weight %s) not found in checkpoint %s"
                                       % (key, var.name, filepath))
        if list(shapes[key]) != var.shape.as_list():
            if skip_mismatch:
                continue
            raise ValueError("Shape mismatch for %s: the checkpoint has %s, the model's weight %s is %s"
                             % (key, list(shapes[key]), var.name, var.shape.as_list()))
        pairs.append((var, reader.get_tensor(key)))
    backend.batch_set_value(pairs)
    return _LoadStatus()


def save_model_weights(model, filepath, overwrite=True, save_format=None):
    filepath = os.fspath(filepath)
    if _is_h5(filepath, save_format):
        raise NotImplementedError("Saving a model in HDF5 format (%s) is not supported by nbflow" % filepath)
    save_weights(model, os.path.join(filepath, "variables", "variables"), overwrite=True)


class _LoadStatus:
    """What load_weights returns (TF's status object); every value was assigned already."""

    def assert_consumed(self):
        return self

    def expect_partial(self):
        return self

    def assert_existing_objects_matched(self):
        return self

