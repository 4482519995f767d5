"""The AST rewriting of AutoGraph: one function's source in, the converted
function's source out.

Each ``if``/``while``/``for`` becomes named inner functions and one call of a
runtime dispatcher (operators.py), as TF's AutoGraph writes them::

    def get_state():            # the values the statement may change
        return (x,)
    def set_state(vars_):
        nonlocal x
        (x,) = vars_
    def if_body():
        nonlocal x
        x = x * 2
    def else_body():
        nonlocal x
        x = -x
    ag__.if_stmt(x > 0, if_body, else_body, get_state, set_state, ('x',), 1)

The dispatcher decides at call time: a symbolic tensor condition builds
tf.cond / tf.while_loop, anything else runs the Python statement. ``and``,
``or``, ``not``, ``==``, ``!=``, ``range`` and ``len`` become ``ag__`` calls
that do the same. Names a statement assigns that may be unbound before it
are bound to ``ag__.Undefined('x')`` first, so the inner functions can say
``nonlocal x``.
"""
import ast
import re

from nbflow.autograph import analysis
from nbflow.autograph.rewrites import LoopRewriter, Namer, ReturnRewriter, all_names, stmt

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _is_generator(fn):
    return any(isinstance(n, (ast.Yield, ast.YieldFrom, ast.Await)) for s in fn.body
               for n in analysis.walk_scope(s))


def _arg_names(args):
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return set(names)


def _load(name):
    return ast.Name(id=name, ctx=ast.Load())


def _state_tuple(names, ctx):
    return ast.Tuple(elts=[ast.Name(id=n, ctx=ctx()) for n in names], ctx=ctx())


def _short(node, limit=60):
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


class ControlFlowConverter:
    """Turns each if/while/for of one function (and of the functions defined
    in it) into inner functions and a dispatcher call."""

    def __init__(self, namer):
        self.namer = namer
        self.comments = []
        self.vars_name = namer.new("vars_")
        self.itr_name = namer.new("itr")

    def comment(self, text):
        """A statement unparsed as ``# text`` (see ``render``)."""
        self.comments.append(text)
        return ast.Expr(value=ast.Constant(value="__ag_comment_%d__" % (len(self.comments) - 1)))

    # -- functions ---------------------------------------------------------

    def function(self, fn):
        """Convert ``fn`` (a FunctionDef) in place, unless it is a generator."""
        if _is_generator(fn):
            return
        ReturnRewriter(self.namer).rewrite(fn)
        fn.body = LoopRewriter(self.namer).block(fn.body)
        glob, nonloc = analysis.declared(fn.body)
        bound = _arg_names(fn.args) | glob | nonloc
        fn.body = self.block(fn.body, bound, set(), glob | nonloc, glob)

    def block(self, stmts, bound, maybe, live_out, glob):
        """Convert a block. ``bound``: names certainly bound before it (updated
        in place); ``maybe``: names bound on some paths; ``live_out``: names
        read after it; ``glob``: names declared global in the function."""
        lives, live = [], set(live_out)
        for s in reversed(stmts):
            lives.append(live)
            live = analysis.stmt_live(s, live)
        lives.reverse()
        out = []
        for s, after in zip(stmts, lives):
            if isinstance(s, ast.If):
                out.extend(self.if_stmt(s, bound, maybe, after, glob))
            elif isinstance(s, ast.While):
                out.extend(self.while_stmt(s, bound, maybe, after, glob))
            elif isinstance(s, ast.For):
                out.extend(self.for_stmt(s, bound, maybe, after, glob))
            elif isinstance(s, _FUNCS):
                self.function(s)
                bound.add(s.name)
                out.append(s)
            elif isinstance(s, (ast.With, ast.AsyncWith)):
                bound |= analysis.assigned(s.items)
                s.body = self.block(s.body, bound, maybe, after, glob)
                out.append(s)
            elif isinstance(s, ast.Try):
                for part in ("body", "orelse", "finalbody"):
                    setattr(s, part, self.block(getattr(s, part), set(bound), set(maybe), after, glob))
                for h in s.handlers:
                    h.body = self.block(h.body, set(bound), set(maybe), after, glob)
                maybe |= analysis.assigned([s]) - bound
                out.append(s)
            else:
                out.append(s)
                bound |= analysis.assigned([s])
        return out

    # -- pieces ------------------------------------------------------------

    def _inits(self, names, bound, maybe):
        """Bind the names that may be unbound, so inner functions can say nonlocal."""
        out = []
        for n in names:
            if n in bound:
                continue
            if n in maybe:
                out.append(stmt("{n} = ag__.maybe_undefined(lambda: {n}, '{n}')", n=n))
            else:
                out.append(stmt("{n} = ag__.Undefined('{n}')", n=n))
        return out

    def _scope_decl(self, names, glob):
        decl = []
        local = [n for n in names if n not in glob]
        if local:
            decl.append(ast.Nonlocal(names=local))
        if any(n in glob for n in names):
            decl.append(ast.Global(names=[n for n in names if n in glob]))
        return decl

    def _def(self, name, body, params=()):
        args = ast.arguments(posonlyargs=[], args=[ast.arg(arg=p) for p in params], vararg=None, kwonlyargs=[],
                             kw_defaults=[], kwarg=None, defaults=[])
        return ast.FunctionDef(name=name, args=args, body=body or [ast.Pass()], decorator_list=[],
                                     returns=None, type_comment=None)

    def _state_fns(self, state, glob):
        get_name, set_name = self.namer.new("get_state"), self.namer.new("set_state")
        get_fn = self._def(get_name, [ast.Return(value=_state_tuple(state, ast.Load))])
        vars_ = self.vars_name
        set_body = self._scope_decl(state, glob)
        if state:
            set_body.append(ast.Assign(targets=[_state_tuple(state, ast.Store)], value=_load(vars_)))
        set_fn = self._def(set_name, set_body, [vars_])
        return get_name, set_name, [get_fn, set_fn]

    @staticmethod
    def _names_tuple(names):
        return ast.Tuple(elts=[ast.Constant(value=n) for n in names], ctx=ast.Load())

    def _call(self, fn, args):
        return ast.Expr(value=ast.Call(func=ast.Attribute(value=_load("ag__"), attr=fn, ctx=ast.Load()),
                                       args=args, keywords=[]))

    # -- statements --------------------------------------------------------

    def if_stmt(self, s, bound, maybe, after, glob):
        modified = sorted(analysis.assigned(s.body + s.orelse))
        outputs = [n for n in modified if n in after]
        state = outputs + [n for n in modified if n not in after]
        pre = self._inits(modified, bound, maybe)
        get_name, set_name, state_fns = self._state_fns(state, glob)
        body_name, else_name = self.namer.new("if_body"), self.namer.new("else_body")
        inner = bound | set(modified)
        body = self.block(s.body, set(inner), set(maybe), after, glob)
        orelse = self.block(s.orelse, set(inner), set(maybe), after, glob)
        bound |= set(modified)
        note = "if %s: -> ag__.if_stmt (tf.cond when the condition is a tensor)" % _short(s.test)
        if outputs:
            note += "; outputs: %s" % ", ".join(outputs)
        decl = self._scope_decl(modified, glob)
        body_fn = self._def(body_name, decl + body)
        else_fn = self._def(else_name, decl + orelse)
        call = self._call("if_stmt", [s.test, _load(body_name), _load(else_name), _load(get_name), _load(set_name),
                                      self._names_tuple(state), ast.Constant(value=len(outputs))])
        return [self.comment(note)] + pre + state_fns + [body_fn, else_fn, call]

    def while_stmt(self, s, bound, maybe, after, glob):
        modified = sorted(analysis.assigned(s.body))
        head = analysis.loop_head_live(s, after)
        loop_vars = [n for n in modified if n in head]
        pre = self._inits(modified, bound, maybe)
        get_name, set_name, state_fns = self._state_fns(loop_vars, glob)
        body_name, test_name = self.namer.new("loop_body"), self.namer.new("loop_test")
        body = self.block(s.body, bound | set(modified), set(maybe), head, glob)
        bound |= set(modified)
        note = "while %s: -> ag__.while_stmt (tf.while_loop when the condition is a tensor)" % _short(s.test)
        if loop_vars:
            note += "; loop variables: %s" % ", ".join(loop_vars)
        body_fn = self._def(body_name, self._scope_decl(modified, glob) + body)
        test_fn = self._def(test_name, [ast.Return(value=s.test)])
        call = self._call("while_stmt", [_load(test_name), _load(body_name), _load(get_name), _load(set_name),
                                         self._names_tuple(loop_vars), ast.Dict(keys=[], values=[])])
        orelse = self.block(s.orelse, bound, maybe, after, glob)
        return [self.comment(note)] + pre + state_fns + [body_fn, test_fn, call] + orelse

    def for_stmt(self, s, bound, maybe, after, glob):
        targets = analysis.target_names(s.target)
        modified = sorted(analysis.assigned(s.body) | targets)
        head = analysis.loop_head_live(s, after)
        loop_vars = [n for n in modified if n in head]
        pre = self._inits(modified, bound, maybe)
        get_name, set_name, state_fns = self._state_fns(loop_vars, glob)
        body_name = self.namer.new("loop_body")
        extra = getattr(s, "ag_extra_tests", [])
        test_name = self.namer.new("extra_test") if extra else None
        inner = bound | set(modified)
        body = self.block(s.body, set(inner), set(maybe), head, glob)
        bound |= set(modified)
        note = "for %s in %s: -> ag__.for_stmt (tf.while_loop over a tensor or tf.range)" % (
            _short(s.target), _short(s.iter))
        if loop_vars:
            note += "; loop variables: %s" % ", ".join(loop_vars)
        itr = self.itr_name
        bind = ast.Assign(targets=[s.target], value=_load(itr))
        body_fn = self._def(body_name, self._scope_decl(modified, glob) + [bind] + body, [itr])
        defs = state_fns + [body_fn]
        extra_arg = ast.Constant(value=None)
        if extra:
            test = extra[0] if len(extra) == 1 else ast.BoolOp(op=ast.And(), values=list(extra))
            test_fn = self._def(test_name, [ast.Return(value=test)])
            defs.append(test_fn)
            extra_arg = _load(test_name)
        opts = ast.Dict(keys=[ast.Constant(value="iterate_names")],
                        values=[ast.Constant(value=", ".join(sorted(targets)))])
        call = self._call("for_stmt", [s.iter, extra_arg, _load(body_name), _load(get_name), _load(set_name),
                                       self._names_tuple(loop_vars), opts])
        orelse = self.block(s.orelse, bound, maybe, after, glob)
        return [self.comment(note)] + pre + defs + [call] + orelse


class OperatorConverter(ast.NodeTransformer):
    """``a and b`` -> ``ag__.and_(lambda: a, lambda: b)``, ``not a`` ->
    ``ag__.not_(a)``, ``a == b`` -> ``ag__.eq(a, b)``, ``range``/``len`` ->
    ``ag__.range_``/``ag__.len_`` (unless the function binds those names)."""

    def __init__(self, local_names):
        self.local_names = local_names

    def visit_ClassDef(self, node):
        return node

    def visit_BoolOp(self, node):
        self.generic_visit(node)
        if any(isinstance(n, ast.NamedExpr) for v in node.values for n in ast.walk(v)):
            return node  # a walrus inside a lambda would bind in the lambda
        fn = "and_" if isinstance(node.op, ast.And) else "or_"
        result = node.values[-1]
        for value in reversed(node.values[:-1]):
            result = ast.Call(func=ast.Attribute(value=_load("ag__"), attr=fn, ctx=ast.Load()),
                              args=[self._thunk(value), self._thunk(result)], keywords=[])
        return result

    @staticmethod
    def _thunk(value):
        return ast.Lambda(args=ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[],
                                             kwarg=None, defaults=[]), body=value)

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Not):
            return ast.Call(func=ast.Attribute(value=_load("ag__"), attr="not_", ctx=ast.Load()),
                            args=[node.operand], keywords=[])
        return node

    def visit_Compare(self, node):
        self.generic_visit(node)
        if len(node.ops) == 1 and isinstance(node.ops[0], (ast.Eq, ast.NotEq)):
            fn = "eq" if isinstance(node.ops[0], ast.Eq) else "not_eq"
            return ast.Call(func=ast.Attribute(value=_load("ag__"), attr=fn, ctx=ast.Load()),
                            args=[node.left, node.comparators[0]], keywords=[])
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        f = node.func
        if isinstance(f, ast.Name) and f.id in ("range", "len") and f.id not in self.local_names:
            node.func = ast.Attribute(value=_load("ag__"), attr=f.id + "_", ctx=ast.Load())
        return node


def _bound_anywhere(tree):
    names = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            names.add(n.id)
        elif isinstance(n, ast.arg):
            names.add(n.arg)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
        elif isinstance(n, ast.alias):
            names.add((n.asname or n.name).split(".")[0])
    return names


_COMMENT = re.compile(r"""^(\s*)(?:'|\"\"\")__ag_comment_(\d+)__(?:'|\"\"\")$""")  # '...', or a docstring


def render(tree, comments):
    """Unparse with the comment markers turned into comments."""
    lines = []
    for line in ast.unparse(tree).splitlines():
        m = _COMMENT.match(line)
        lines.append(m.group(1) + "# " + comments[int(m.group(2))] if m else line)
    return "\n".join(lines) + "\n"


def convert_source(fn_node, new_name):
    """Convert a parsed FunctionDef (decorators are dropped); returns the
    converted function's source, a ``def new_name(...)``."""
    fn_node.decorator_list = []
    namer = Namer(all_names(fn_node) | {"ag__"})
    local_names = _bound_anywhere(fn_node)
    converter = ControlFlowConverter(namer)
    converter.function(fn_node)
    fn_node = OperatorConverter(local_names).visit(fn_node)
    fn_node.name = new_name
    ast.fix_missing_locations(fn_node)
    return render(fn_node, converter.comments)
