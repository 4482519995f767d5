"""TF 1.x's queue-based input (training/input.py): ``string_input_producer``,
``input_producer`` and ``batch``, built from a FIFOQueue, its enqueue ops and a
QueueRunner added to GraphKeys.QUEUE_RUNNERS, with TF's queue summaries
(``<scope>/fraction_of_<capacity>_full``).

Not supported (each raises NotImplementedError): ``num_epochs`` (TF counts
epochs with a CountUpTo op nbflow lacks), ``dynamic_pad`` (a PaddingFIFOQueue),
``allow_smaller_final_batch`` (dequeue_up_to), sparse tensors, ``keep_input``.
"""
from nbflow.framework import dtypes
from nbflow.framework.graph import Tensor, name_scope
from nbflow.framework.tensor_shape import as_shape
from nbflow.ops import math_ops
from nbflow.ops.base import constant_value, convert_to_tensor
from nbflow.ops.data_flow_ops import FIFOQueue
from nbflow.ops.random_ops import random_shuffle
from nbflow.summary.summary_ops import scalar as _summary_scalar
from nbflow.train.queue_runner import QueueRunner, add_queue_runner

__all__ = ["limit_epochs", "input_producer", "string_input_producer", "batch"]


def limit_epochs(tensor, num_epochs=None, name=None):
    """``tensor`` itself when ``num_epochs`` is None (nbflow supports no other value yet)."""
    if num_epochs is None:
        return tensor
    if num_epochs <= 0:
        raise ValueError("num_epochs must be > 0 not %d." % num_epochs)
    raise NotImplementedError("num_epochs=%d is not supported by nbflow yet (TF counts epochs with a CountUpTo op); "
                              "use num_epochs=None and stop after a number of steps" % num_epochs)


def _queue_fraction_summary(queue, capacity, summary_name):
    if summary_name is not None:
        _summary_scalar(summary_name, math_ops.cast(queue.size(), dtypes.float32) * (1.0 / capacity))


def input_producer(input_tensor, element_shape=None, num_epochs=None, shuffle=True, seed=None, capacity=32,
                   shared_name=None, summary_name=None, name=None, cancel_op=None):
    """A queue filled, by a QueueRunner, with the rows of ``input_tensor`` over and over
    (shuffled each pass when ``shuffle``)."""
    with name_scope(name, "input_producer", [input_tensor]):
        input_tensor = convert_to_tensor(input_tensor, name="input_tensor")
        element_shape = input_tensor.shape[1:].merge_with(as_shape(element_shape) if element_shape is not None
                                                          else input_tensor.shape[1:])
        if not element_shape.is_fully_defined():
            raise ValueError("Either `input_tensor` must have a fully defined shape or `element_shape` must be "
                             "specified")
        if shuffle:
            input_tensor = random_shuffle(input_tensor, seed=seed)
        input_tensor = limit_epochs(input_tensor, num_epochs)
        q = FIFOQueue(capacity=capacity, dtypes=[input_tensor.dtype.base_dtype], shapes=[element_shape],
                      shared_name=shared_name, name=name)
        enq = q.enqueue_many([input_tensor])
        add_queue_runner(QueueRunner(q, [enq], cancel_op=cancel_op))
        _queue_fraction_summary(q, capacity, summary_name)
        return q


def string_input_producer(string_tensor, num_epochs=None, shuffle=True, seed=None, capacity=32, shared_name=None,
                          name=None, cancel_op=None):
    """A queue of the strings of ``string_tensor`` (file names, for a reader), refilled forever."""
    not_null_err = "string_input_producer requires a non-null input tensor"
    if not isinstance(string_tensor, Tensor) and not len(string_tensor):
        raise ValueError(not_null_err)
    with name_scope(name, "input_producer", [string_tensor]) as scope:
        string_tensor = convert_to_tensor(string_tensor, dtype=dtypes.string)
        value = constant_value(string_tensor)
        if value is not None and value.size == 0:
            raise ValueError(not_null_err)
        return input_producer(input_tensor=string_tensor, element_shape=[], num_epochs=num_epochs, shuffle=shuffle,
                              seed=seed, capacity=capacity, shared_name=shared_name, name=scope,
                              summary_name="fraction_of_%d_full" % capacity, cancel_op=cancel_op)


def _as_tensor_list(tensors):
    if isinstance(tensors, dict):
        return [tensors[k] for k in sorted(tensors)]
    return list(tensors)


def _as_original_type(original, tensors):
    if isinstance(original, dict):
        return dict(zip(sorted(original), tensors))
    return tensors


def batch(tensors, batch_size, num_threads=1, capacity=32, enqueue_many=False, shapes=None, dynamic_pad=False,
          allow_smaller_final_batch=False, shared_name=None, name=None):
    """Batches of ``batch_size`` of ``tensors`` (a list or dict), gathered by ``num_threads``
    threads of a QueueRunner into a FIFOQueue of ``capacity``."""
    if dynamic_pad:
        raise NotImplementedError("tf.train.batch(dynamic_pad=True) needs a PaddingFIFOQueue, which nbflow lacks")
    if allow_smaller_final_batch:
        raise NotImplementedError("tf.train.batch(allow_smaller_final_batch=True) needs dequeue_up_to, which "
                                  "nbflow lacks")
    tensor_list = _as_tensor_list(tensors)
    with name_scope(name, "batch", tensor_list) as scope:
        if not tensor_list:
            raise ValueError("Expected at least one tensor in batch().")
        tensor_list = [convert_to_tensor(t) for t in tensor_list]
        types = [t.dtype.base_dtype for t in tensor_list]
        if shapes is None:
            shapes = [t.shape[1:] if enqueue_many else t.shape for t in tensor_list]
        shapes = [as_shape(s) for s in shapes]
        for s in shapes:
            if not s.is_fully_defined():
                raise ValueError("All shapes must be fully defined: %s" % shapes)
        queue = FIFOQueue(capacity=capacity, dtypes=types, shapes=shapes, shared_name=shared_name)
        enqueue = queue.enqueue_many if enqueue_many else queue.enqueue
        add_queue_runner(QueueRunner(queue, [enqueue(tensor_list)] * num_threads))
        _summary_scalar("fraction_of_%d_full" % capacity,
                        math_ops.cast(queue.size(), dtypes.float32) * (1.0 / capacity))
        dequeued = queue.dequeue_many(batch_size, name=scope)
        dequeued = dequeued if isinstance(dequeued, list) else [dequeued]
        return _as_original_type(tensors, dequeued)
