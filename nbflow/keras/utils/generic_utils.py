"""``tf.keras.utils.Progbar``: Keras's text progress bar.

The line is Keras's::

    47/47 [==============================] - 1s 20ms/step - loss: 0.2345 - accuracy: 0.9312

and, before the end, ``12/47 [=======>......................] - ETA: 1s - loss: ...``.
``verbose=1`` redraws the line in place (``\\b``s and ``\\r``) when stdout is a
terminal (or a Jupyter kernel); otherwise -- a file, a pipe, pytest's capture --
it writes only the finished line, once per bar (Keras writes a new line per
update there). ``verbose=2`` writes one line when the bar finishes, without the
bar: ``47/47 - 1s - loss: 0.2345``. Values are averaged over the steps
(weighted by the steps each update covers) unless their names are in
``stateful_metrics``, which are shown as given. Numbers are ``%.4f`` (``%.4e``
when ``|v| <= 1e-3``). Output goes to ``sys.stdout`` as it is when written.
"""
import os
import sys
import time

import numpy as np

__all__ = ["Progbar"]


def _format_value(value):
    avg = float(np.mean(value))
    return " %.4f" % avg if abs(avg) > 1e-3 else " %.4e" % avg


class Progbar:
    """``Progbar(target, width=30, verbose=1, interval=0.05, stateful_metrics=None,
    unit_name='step')``: ``target`` is the number of steps (None: unknown);
    ``update(current, values=None, finalize=None)`` with ``values`` a list of
    ``(name, value)``; ``add(n, values=None)``."""

    def __init__(self, target, width=30, verbose=1, interval=0.05, stateful_metrics=None, unit_name="step"):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics) if stateful_metrics else set()
        self._total_width = 0
        self._seen_so_far = 0
        self._values = {}       # name -> [weighted sum, weight] (or [value, 1] when stateful)
        self._values_order = []
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None

    @staticmethod
    def _dynamic_display():
        out = sys.stdout
        return bool((hasattr(out, "isatty") and out.isatty()) or "ipykernel" in sys.modules
                    or "PYCHARM_HOSTED" in os.environ)

    def _accumulate(self, current, values):
        for name, value in values or []:
            if name not in self._values_order:
                self._values_order.append(name)
            value = _to_number(value)
            if name in self.stateful_metrics:
                self._values[name] = [value, 1]
                continue
            # an update covers the steps since the last one (at least 1, so a repeated
            # final update at the same step still counts)
            base = max(current - self._seen_so_far, 1)
            if name not in self._values:
                self._values[name] = [value * base, base]
            else:
                self._values[name][0] += value * base
                self._values[name][1] += base

    def _metrics_text(self):
        text = ""
        for name in self._values_order:
            total, count = self._values[name]
            text += " - %s:%s" % (name, _format_value(total / max(1, count)))
        return text

    def _time_per_unit(self, current, now):
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_unit

    def _per_unit_text(self, per_unit):
        if per_unit >= 1 or per_unit == 0:
            return " %.0fs/%s" % (per_unit, self.unit_name)
        if per_unit >= 1e-3:
            return " %.0fms/%s" % (per_unit * 1e3, self.unit_name)
        return " %.0fus/%s" % (per_unit * 1e6, self.unit_name)

    def _bar(self, current):
        if self.target is None:
            return "%7d/Unknown" % current
        digits = int(np.log10(self.target)) + 1 if self.target > 0 else 1
        bar = ("%" + str(digits) + "d/%d [") % (current, self.target)
        filled = int(self.width * (float(current) / self.target if self.target else 1.0))
        filled = min(filled, self.width)
        if filled > 0:
            bar += "=" * (filled - 1) + (">" if current < self.target else "=")
        return bar + "." * (self.width - filled) + "]"

    def update(self, current, values=None, finalize=None):
        """Show progress ``current`` (steps done) with ``values`` [(name, value)]; ``finalize``
        (default: ``current >= target``) ends the line."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        self._accumulate(current, values)
        self._seen_so_far = current
        now = time.time()
        elapsed = " - %.0fs" % (now - self._start)
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            dynamic = self._dynamic_display()
            if not dynamic and not finalize:
                self._time_per_unit(current, now)  # keep the step-time estimate right
                self._last_update = now
                return
            per_unit = self._time_per_unit(current, now)
            bar = self._bar(current)
            if self.target is None or finalize:
                info = elapsed + self._per_unit_text(per_unit)
            else:
                info = " - ETA: %s" % _eta_text(per_unit * (self.target - current))
            info += self._metrics_text()
            prev_width = self._total_width
            self._total_width = len(bar) + len(info)
            if dynamic:
                prefix = "\b" * prev_width + "\r"
                if prev_width > self._total_width:
                    info += " " * (prev_width - self._total_width)
            else:
                prefix = ""
            sys.stdout.write(prefix + bar + info + ("\n" if finalize else ""))
            sys.stdout.flush()
        elif self.verbose == 2:
            if finalize:
                if self.target is not None:
                    digits = int(np.log10(self.target)) + 1 if self.target > 0 else 1
                    count = ("%" + str(digits) + "d/%d") % (current, self.target)
                else:
                    count = "%d" % current
                line = count + elapsed + self._metrics_text()
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
        self._last_update = now

    def add(self, n, values=None):
        """``update(seen + n, values)``."""
        self.update(self._seen_so_far + n, values)


def _eta_text(eta):
    if eta > 3600:
        return "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
    if eta > 60:
        return "%d:%02d" % (eta // 60, eta % 60)
    return "%ds" % eta


def _to_number(value):
    """A logged value as a Python/numpy number (eager tensors and 0-d arrays included)."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    return value
