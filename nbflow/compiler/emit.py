"""The emit pass: the step as one generated straight-line Python function.

``step(feed values...) -> fetched values``: one line per kernel call,
arguments bound as locals -- no loop, no per-step lists. The line of a failing
call tells which op failed (``failing_step``).
"""


def emit_pass(program):
    program.step, program.step_source, program.line_to_step, program.step_code_name = \
        emit_step(program.steps, program.feed_slots, program.fetch_slots, program.initial)
    program.note("emit", "a %d-line step function" % program.step_source.count("\n"))


def emit_step(steps, feed_slots, fetch_slots, initial):
    """Return (step function, its source, source line -> step index, code name)."""
    feed_names = {sl: "f%d" % i for i, sl in enumerate(feed_slots)}
    computed = set(feed_names)
    for _, _, out, n_out in steps:
        computed.update((out,) if n_out == 1 else (out if n_out else ()))

    def name(sl):
        if sl in feed_names:
            return feed_names[sl]
        return "v%d" % sl if sl in computed else "c%d" % sl

    consts = sorted({sl for _, ins, _, _ in steps for sl in ins if sl not in computed}
                    | {sl for sl in fetch_slots if sl >= 0 and sl not in computed})
    lines = ["def make(K, C):",
             "    %s = K" % "".join("k%d, " % i for i in range(len(steps))) if steps else "    pass",
             "    %s = C" % "".join("c%d, " % sl for sl in consts) if consts else "    pass",
             "    def step(%s):" % ", ".join(feed_names[sl] for sl in feed_slots)]
    line_to_step = {}
    for i, (_, ins, out, n_out) in enumerate(steps):
        call = "k%d(%s)" % (i, ", ".join(name(sl) for sl in ins))
        if n_out == 0:
            lhs = ""
        elif n_out == 1:
            lhs = name(out) + " = "
        else:
            lhs = "".join(name(sl) + ", " for sl in out) + "= "
        line_to_step[len(lines) + 1] = i
        lines.append("        " + lhs + call)
    lines.append("        return [%s]" % ", ".join("None" if sl < 0 else name(sl) for sl in fetch_slots))
    lines.append("    return step")
    source = "\n".join(lines) + "\n"
    namespace = {}
    code_name = "<nbflow plan %x>" % id(line_to_step)
    exec(compile(source, code_name, "exec"), namespace)
    step = namespace["make"]([k for k, _, _, _ in steps], [initial[sl] for sl in consts])
    return step, source, line_to_step, code_name


def failing_step(exc, code_name, line_to_step):
    """The index of the step whose line in the generated function raised ``exc``."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == code_name:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line_to_step.get(line, 0)
