"""The compiler's pass pipeline: one list, run in order over one Program.

    prune -> place -> remote -> resolve (fold, transfer, identity, cse, kernel per op)
          -> fetch -> fusion -> order -> memory -> bind -> emit

Each pass is a function over the Program (program.py). The passes named in
``CompilerOptions.PASSES`` can be switched off (``NBFLOW_DISABLE_PASSES`` or
``ConfigProto(nbflow_disabled_passes=[...])``) with results unchanged: fusion
and memory here, fold, identity and cse inside resolve. Each pass notes what
it did in ``program.log`` (shown by ``nbflow.explain``).
"""
import nbflow.backends.cpu  # noqa: F401  (registers the CPU kernels)
import nbflow.backends.cuda  # noqa: F401  (a probe: GPU devices and kernels when numba-cuda and a GPU are present)
from nbflow.compiler.bind import bind_pass
from nbflow.compiler.emit import emit_pass
from nbflow.compiler.fusion import fusion_pass
from nbflow.compiler.memory import memory_pass
from nbflow.compiler.placement import place_pass
from nbflow.compiler.program import Program
from nbflow.compiler.prune import prune_pass
from nbflow.compiler.remote import remote_pass
from nbflow.compiler.resolve import fetch_pass, resolve_pass
from nbflow.compiler.schedule import order_pass

#: (name, pass): every pass, in order. A name in CompilerOptions.PASSES can be switched off.
PIPELINE = (
    ("prune", prune_pass),
    ("place", place_pass),
    ("remote", remote_pass),  # ops on ps tasks -> segments run there (tf.Session(server.target) only)
    ("resolve", resolve_pass),
    ("fetch", fetch_pass),
    ("fusion", fusion_pass),
    ("order", order_pass),
    ("memory", memory_pass),
    ("bind", bind_pass),
    ("emit", emit_pass),
)


def compile_program(elements, feeds, env, options, io_device=None):
    """Compile the fetched ``elements`` given ``feeds`` [(tensor, dtype, shape)] into a Program
    whose feeds and fetches live on ``io_device`` (None: the host)."""
    program = Program(elements, feeds, env, options, io_device)
    for name, run_pass in PIPELINE:
        if name not in options.disabled:
            run_pass(program)
    return program
