"""nbflow.explain: show the plan a Session.run would execute."""
from nbflow.compiler.fusion import Group
from nbflow.compiler.pipeline import PIPELINE
from nbflow.runtime.session import get_default_session


def explain(fetches, feed_dict=None, session=None, file=None):
    """Return (and print unless ``file`` is False) a description of the plan for ``fetches``:
    folded constants, each step's kernel (fused groups with their members and
    generated source file) and output shapes."""
    sess = session or get_default_session()
    if sess is None:
        raise ValueError("explain() needs a session: pass session= or use `with tf.Session():`")
    plan = sess.plan_for(fetches, feed_dict)
    lines = ["Plan: %d ops after pruning, %d steps, %d fused groups, %d folded values"
             % (len(plan.ops), len(plan.steps), len(plan.fused_groups),
                sum(v is not None for v in plan.initial) - 0)]
    if plan.memory is not None:
        lines.append("Memory: %d bytes of intermediate buffers allocated, %d bytes served by reusing dead ones"
                     % (plan.memory.bytes_allocated, plan.memory.bytes_reused))
        for name, (allocated, reused) in sorted(plan.memory.device_bytes.items()):
            lines.append("Device memory %s: %d bytes of planned buffers allocated, %d bytes served by reusing dead "
                         "ones" % (name, allocated, reused))
    lines.extend(_pass_lines(plan.program))
    lines.append("Steps:")
    groups_by_last = {g.ops[-1]: g for g in plan.fused_groups}
    for i, op in enumerate(plan.step_ops):
        g = groups_by_last.get(op)
        if op not in plan.placement:  # a copy between devices
            lines.append("  %3d  %s" % (i, op.name))
            continue
        device = plan.placement[op].name
        if isinstance(g, Group):
            lines.append("  %3d  fused[%d ops] %s  shape=%s  device=%s" % (
                i, len(g.ops), " -> ".join("%s(%s)" % (o.type, o.name) for o in g.ops), g.shape, device))
            lines.append("         inputs:  %s" % ", ".join(t.name for t in g.inputs))
            lines.append("         outputs: %s" % ", ".join(t.name for t in g.outputs))
            lines.append("         source:  %s" % g.source_path)
        else:
            shapes = ", ".join(str(plan.slot_shapes[plan.slot_of[t]]) for t in op.outputs)
            lines.append("  %3d  %s (%s)  -> %s  device=%s" % (i, op.name, op.type, shapes or "-", device))
    text = "\n".join(lines)
    if file is not False:
        print(text, file=file)
    return text


# passes that note one summary line rather than one line per change
_SUMMARY_PASSES = ("prune", "place", "resolve", "order", "memory", "bind", "emit")


def _pass_lines(program, per_pass=5):
    """What each compiler pass did (program.log), a few lines per pass."""
    lines = ["Passes:"]
    names = [name for name, _ in PIPELINE]
    order = names[:3] + ["fold", "transfer", "identity", "cse"] + names[3:]
    disabled = program.options.disabled
    for name in order:
        notes = program.log.get(name, [])
        state = "off" if name in disabled else "%d change%s" % (len(notes), "" if len(notes) == 1 else "s")
        if name in _SUMMARY_PASSES and notes:
            state = notes[0]
        lines.append("  %-9s %s" % (name, state))
        if name not in _SUMMARY_PASSES:
            for note in notes[:per_pass]:
                lines.append("              %s" % note)
            if len(notes) > per_pass:
                lines.append("              ... and %d more" % (len(notes) - per_pass))
    return lines
