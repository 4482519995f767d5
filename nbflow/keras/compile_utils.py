"""What ``Model.compile`` needs to turn its ``loss=`` and ``metrics=`` arguments into objects.

- ``resolve_loss(identifier)``: a ``Loss`` object (names, classes, functions, Loss objects);
- ``resolve_metric(identifier, loss_fn=None, output_shape=None, y_true_shape=None)``: a
  ``Metric`` object; 'accuracy'/'acc' and 'crossentropy'/'ce' become the variant the
  loss and shapes call for (TF 1.15's ``get_metric_function`` rule on the loss, then TF
  2's rule on the shapes), named as given ('acc' stays 'acc' in the logs);
- ``resolve_metrics(identifiers, ...)``: a list of them (None and [] give []).
"""
from nbflow.framework.tensor_shape import TensorShape
from nbflow.keras import losses as losses_mod
from nbflow.keras import metrics as metrics_mod

__all__ = ["resolve_loss", "resolve_metric", "resolve_metrics"]

_ACCURACY = ("accuracy", "acc")
_CROSSENTROPY = ("crossentropy", "ce")


def _object_name(obj):
    name = getattr(obj, "name", None)
    if isinstance(name, str):
        return name
    return getattr(obj, "__name__", None)


def resolve_loss(identifier):
    """``identifier`` as a ``Loss`` object (a function is wrapped, named by its ``__name__``)."""
    loss = losses_mod.get(identifier)
    if loss is None or isinstance(loss, losses_mod.Loss):
        return loss
    return losses_mod.LossFunctionWrapper(loss, name=_object_name(loss))


def _loss_function(loss_fn):
    if isinstance(loss_fn, (losses_mod.LossFunctionWrapper,)):
        return loss_fn.fn
    return loss_fn


def _dims(shape):
    if shape is None:
        return None
    shape = shape if isinstance(shape, TensorShape) else TensorShape(shape)
    return None if shape.ndims is None else shape.as_list()


def _kind(loss_fn, output_shape, y_true_shape):
    """'binary', 'sparse' or 'categorical' for 'accuracy'/'crossentropy'."""
    fn = _loss_function(loss_fn)
    if fn is losses_mod.binary_crossentropy:
        return "binary"
    if fn is losses_mod.sparse_categorical_crossentropy:
        return "sparse"
    if fn is losses_mod.categorical_crossentropy:
        return "categorical"
    out = _dims(output_shape)
    if out and out[-1] == 1:
        return "binary"
    true = _dims(y_true_shape)
    if out and true is not None:
        if len(true) < len(out) or (true and true[-1] == 1 and (out[-1] or 0) > 1):
            return "sparse"
    return "categorical"


def resolve_metric(identifier, loss_fn=None, output_shape=None, y_true_shape=None):
    """A ``Metric`` object for one entry of ``compile(metrics=[...])``.

    ``loss_fn`` is the compiled loss (a name, function or Loss object), ``output_shape``
    the model output's shape and ``y_true_shape`` the targets' (either may be None).
    'accuracy'/'acc': binary_accuracy when the loss is binary cross-entropy or the output
    has one unit, sparse_categorical_accuracy when the loss is the sparse cross-entropy or
    the targets have one rank less than the output (or a last dimension of 1 against
    several classes), else categorical_accuracy. 'crossentropy'/'ce' likewise. Functions
    are wrapped in a ``MeanMetricWrapper`` named by the identifier string (or the
    function's name); Metric objects are returned as they are."""
    if identifier is None:
        return None
    if isinstance(identifier, metrics_mod.Metric):
        return identifier
    key = identifier.lower() if isinstance(identifier, str) else None
    if key in _ACCURACY or key in _CROSSENTROPY:
        if isinstance(loss_fn, (str, dict)):
            loss_fn = losses_mod.get(loss_fn)
        kind = _kind(loss_fn, output_shape, y_true_shape)
        if key in _ACCURACY:
            fn = {"binary": metrics_mod.binary_accuracy, "sparse": metrics_mod.sparse_categorical_accuracy,
                  "categorical": metrics_mod.categorical_accuracy}[kind]
        else:
            fn = {"binary": metrics_mod.binary_crossentropy, "sparse": metrics_mod.sparse_categorical_crossentropy,
                  "categorical": metrics_mod.categorical_crossentropy}[kind]
        return metrics_mod.MeanMetricWrapper(fn, name=identifier)
    metric = metrics_mod.get(identifier)
    if isinstance(metric, metrics_mod.Metric):
        return metric
    name = identifier if isinstance(identifier, str) else _object_name(metric)
    if name is None:
        raise ValueError("Metric should be a callable, found: {}".format(identifier))
    return metrics_mod.MeanMetricWrapper(metric, name=name)


def resolve_metrics(identifiers, loss_fn=None, output_shape=None, y_true_shape=None):
    """``resolve_metric`` of each entry of a list (a single identifier is a list of one)."""
    if identifiers is None:
        return []
    if not isinstance(identifiers, (list, tuple)):
        identifiers = [identifiers]
    return [resolve_metric(m, loss_fn, output_shape, y_true_shape) for m in identifiers if m is not None]
