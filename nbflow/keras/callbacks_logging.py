"""``tf.keras.callbacks.TensorBoard`` and ``CSVLogger``: callbacks that write the logs to files."""
import collections
import csv
import os

import numpy as np

from nbflow.framework import context
from nbflow.framework.graph import Graph, get_default_graph
from nbflow.keras.callbacks_base import Callback, _numpy_logs, _value

__all__ = ["TensorBoard", "CSVLogger"]


class CSVLogger(Callback):
    """Append each epoch's logs as a CSV row (``epoch`` first, then the keys in sorted
    order) to ``filename``; ``append=True`` keeps an existing file's rows."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys = None
        self._file = None
        self._writer = None
        self._append_header = True

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename) as f:
                    self._append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        self._file = open(self.filename, mode, newline="")

    def on_epoch_end(self, epoch, logs=None):
        logs = _numpy_logs(logs)

        def fmt(v):
            if isinstance(v, np.ndarray) and v.ndim:
                return '"[%s]"' % ", ".join(map(str, v.ravel()))
            return v

        if self.keys is None:
            self.keys = sorted(logs)
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self.keys, delimiter=self.sep)
            if self._append_header:
                self._writer.writeheader()
        row = collections.OrderedDict({"epoch": epoch})
        row.update((k, fmt(logs.get(k, "NA"))) for k in self.keys)
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
        self._file = None
        self._writer = None


def _is_scalar(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _scalar_summary(tag, value):
    from tensorboard.compat.proto import summary_pb2

    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=float(value))])


class TensorBoard(Callback):
    """Write the logs for TensorBoard, laid out as TF 2's callback: event files in
    ``log_dir/train`` and ``log_dir/validation``; per epoch the scalars ``epoch_<name>``
    (``val_<name>`` entries go to validation/ as ``epoch_<name>``) at step ``epoch``;
    with ``update_freq='batch'`` (or N) also ``batch_<name>`` in train/ every (Nth)
    batch, at the step counting batches from 1 across epochs; ``histogram_freq=N``:
    a histogram of each of ``model.weights`` (``name`` with ':' as '_') every N epochs;
    ``write_graph``: the model's graph (``model.graph``, or the default graph when
    building a TF 1 graph) once at the start.

    Written with the TF 1 event-file writer (``nbflow.summary.FileWriter``) as Summary
    protos with ``simple_value``s (TF 2 writes tensor summaries; TensorBoard shows both
    as scalars). ``profile_batch``, ``write_images`` and the embeddings arguments are
    accepted and ignored."""

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False, update_freq="epoch",
                 profile_batch=2, embeddings_freq=0, embeddings_metadata=None, **kwargs):
        super().__init__()
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and not (isinstance(update_freq, int) and update_freq > 0):
            raise ValueError("update_freq must be 'epoch', 'batch' or a positive integer, got %r" % (update_freq,))
        self.update_freq = update_freq
        self._writers = {}
        self._train_step = 0

    def _writer(self, which):
        writer = self._writers.get(which)
        if writer is None:
            from nbflow.summary.writer import FileWriter

            writer = self._writers[which] = FileWriter(os.path.join(self.log_dir, which))
        return writer

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def on_train_begin(self, logs=None):
        self._train_step = 0
        if self.write_graph:
            graph = getattr(self.model, "graph", None)
            if not isinstance(graph, Graph) and not context.executing_eagerly():
                graph = get_default_graph()
            if isinstance(graph, Graph) and graph.get_operations():
                self._writer("train").add_graph(graph)

    def on_train_batch_end(self, batch, logs=None):
        self._train_step += 1
        if self.update_freq == "epoch" or self._train_step % self.update_freq:
            return
        writer = self._writer("train")
        for name, value in _numpy_logs(logs).items():
            if name in ("batch", "size") or not _is_scalar(value):
                continue
            writer.add_summary(_scalar_summary("batch_" + name, value), self._train_step)

    def _learning_rate(self):
        optimizer = getattr(self.model, "optimizer", None)
        hyper = getattr(optimizer, "_hyper", None)
        lr = hyper.get("learning_rate") if isinstance(hyper, dict) else None
        if lr is None or not callable(lr) or not context.executing_eagerly():
            return None
        try:
            return float(_value(lr(optimizer.iterations)))
        except Exception:  # a schedule that cannot be evaluated here: not logged
            return None

    def on_epoch_end(self, epoch, logs=None):
        logs = _numpy_logs(logs)
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        lr = self._learning_rate()
        if lr is not None and "learning_rate" not in train:
            train["learning_rate"] = lr
        for which, values in (("train", train), ("validation", val)):
            if not values:
                continue
            writer = self._writer(which)
            for name, value in values.items():
                if _is_scalar(value):
                    writer.add_summary(_scalar_summary("epoch_" + name, value), epoch)
            writer.flush()
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)

    def _log_weights(self, epoch):
        from tensorboard.compat.proto import summary_pb2

        from nbflow.backends.summary_encoding import histogram_proto

        weights = getattr(self.model, "weights", None)
        if weights is None:
            weights = self.model.trainable_weights
        writer = self._writer("train")
        for w in weights:
            name = getattr(w, "name", "weight").replace(":", "_")
            summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(
                tag=name, histo=histogram_proto(np.asarray(_value(w), dtype=np.float64)))])
            writer.add_summary(summary, epoch)
        writer.flush()

    def on_train_end(self, logs=None):
        self._close_writers()
