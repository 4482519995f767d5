"""Plans: the compiled computation of one Session.run, and running it.

A Plan is compiled once per (fetches, fed tensors, feed shapes and dtypes) by
the compiler's pass pipeline (nbflow/compiler/pipeline.py) and reused. Running
it is the prechecks (e.g. uninitialized variables, raised before any kernel
runs) and then the generated straight-line step function. The runtime never
looks at an op's type: everything op-specific lives in the op class and its
registered kernels.
"""
import threading
from collections import ChainMap

import numba

from nbflow.compiler.emit import emit_step, failing_step
from nbflow.compiler.options import CompilerOptions
from nbflow.compiler.pipeline import compile_program
from nbflow.compiler.program import CompileEnv
from nbflow.compiler.resolve import kernel_error
from nbflow.framework import errors


class Plan:
    def __init__(self, runtime, elements, feeds, device=None, outer_placement=None):
        """``elements``: fetched Tensors and Operations (an Operation fetches None).
        ``feeds``: list of (tensor, np.dtype, shape) in the order feed values are given.
        ``device``: where feed values are given and fetched values returned (None: the
        host); a cond branch or loop body run by a GPU If / While keeps them there.
        ``outer_placement``: a sub-plan's view of where the enclosing plans' ops run."""
        self.runtime = runtime
        self.lock = threading.Lock()
        self.options = CompilerOptions.from_config(getattr(runtime, "config", None))
        env = CompileEnv(runtime.local_devices, runtime.config, runtime.resources, self._sub_plan, outer_placement)
        program = compile_program(elements, feeds, env, self.options, device)
        self.program = program
        self.elements = program.elements
        self.ops = program.ops
        self.placement = program.placement
        # what a sub-plan (a cond branch, a loop body) sees of where ops outside it run
        self.scope_placement = ChainMap(self.placement, outer_placement) if outer_placement else self.placement
        self.fused_groups = program.fused_groups
        self.memory = program.memory
        self.slot_of, self.slot_shapes, self.initial = program.slot_of, program.slot_shapes, program.initial
        self.steps, self.step_ops = program.steps, program.step_ops
        self.prechecks = program.prechecks
        self.fetch_is_fresh = program.fetch_is_fresh
        self.step_source = program.step_source
        self._step, self._line_to_step, self._step_code_name = \
            program.step, program.line_to_step, program.step_code_name
        #: ConfigProto.intra_op_parallelism_threads (0: all of Numba's threads, as TF's "all cores")
        self.threads = min(self.options.threads, numba.config.NUMBA_NUM_THREADS) if self.options.threads else 0

    def _sub_plan(self, elements, feeds, device=None):
        return Plan(self.runtime, elements, feeds, device, self.scope_placement)

    def run(self, feed_values):
        """Run one step: prechecks, then the generated straight-line function -- with Numba's
        thread count (what every parallel kernel splits its work by) set to
        intra_op_parallelism_threads when the session's config names one."""
        for check in self.prechecks:
            check()
        if self.threads:
            saved = numba.get_num_threads()
            numba.set_num_threads(self.threads)  # per calling thread, restored below
            try:
                return self._run(feed_values)
            finally:
                numba.set_num_threads(saved)
        return self._run(feed_values)

    def _run(self, feed_values):
        try:
            return self._step(*feed_values)
        except errors.OpError:
            raise
        except Exception as e:
            i = failing_step(e, self._step_code_name, self._line_to_step)
            raise kernel_error(self.step_ops[i] if self.step_ops else None, e) from e

    def _compile_step(self):
        """Regenerate the step function from ``self.steps`` (benchmarks/plan_profile.py wraps them)."""
        p = self.program
        self._step, self.step_source, self._line_to_step, self._step_code_name = \
            emit_step(self.steps, p.feed_slots, p.fetch_slots, p.initial)
