"""Busy neighbour processes for ``python -m benchmarks.run --contend N`` (issue 16, item 4).

A shared machine's other tenants take cores away from a benchmark at random
moments. ``--contend N`` makes that happen on purpose and reproducibly: N
processes, each spinning one pure-Python loop, run for the whole measurement,
so with N = 1 on 2 cores every two-thread implementation keeps losing one of
its threads to the scheduler. The spread table then shows how each library's
step time holds up when it cannot have every core it asked for (a barrier
that spins waiting for a descheduled thread stalls; one that yields does not).
"""
import subprocess
import sys

_SPIN = "while True:\n    pass\n"


class BusyNeighbours:
    """Context manager: ``count`` spinning processes, stopped on exit."""

    def __init__(self, count):
        if count < 0:
            raise ValueError("--contend takes a number of processes >= 0, got %d" % count)
        self.count = count
        self.procs = []

    def __enter__(self):
        for _ in range(self.count):
            self.procs.append(subprocess.Popen([sys.executable, "-c", _SPIN],
                                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL))
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()
        self.procs = []
