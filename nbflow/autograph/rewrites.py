"""Rewrites that run before control flow is converted, as TF's AutoGraph:

- ``return`` inside ``if``/loops becomes a ``do_return``/``retval_`` pair
  (the statements after a statement that may return are guarded by
  ``if not do_return:``; an ``if`` whose body always returns takes the rest
  of the block as its ``else``), and one ``return`` at the end;
- ``break``/``continue`` become boolean flags (``break_``, ``continue_``): the
  statements after one are guarded by ``if not flag:``, a ``while`` test
  becomes ``not break_ and test``, a ``for`` gets an extra test, and a loop's
  ``else`` becomes ``if not break_:`` after it.

After these, every ``if``/``while``/``for`` of the function is single-entry
single-exit and can become a function call.
"""
import ast

from nbflow.autograph import analysis

_LOOPS = (ast.For, ast.While)


class Namer:
    """Fresh names that clash with no name of the function."""

    def __init__(self, used):
        self.used = set(used)

    def new(self, base):
        name, k = base, 0
        while name in self.used:
            k += 1
            name = "%s_%d" % (base, k)
        self.used.add(name)
        return name


def all_names(tree):
    names = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            names.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
        elif isinstance(n, ast.arg):
            names.add(n.arg)
    return names


def stmt(src, **names):
    """One statement parsed from ``src`` with ``{name}`` fields filled."""
    return ast.parse(src.format(**names)).body[0]


def expr(src, **names):
    return ast.parse(src.format(**names), mode="eval").body


def not_flag(flag):
    return ast.UnaryOp(op=ast.Not(), operand=ast.Name(id=flag, ctx=ast.Load()))


def guard(flag, body):
    """``if not flag: body``"""
    return ast.If(test=not_flag(flag), body=body, orelse=[])


def add_extra_test(loop, test):
    """A condition checked before each iteration besides the loop's own."""
    if isinstance(loop, ast.While):
        loop.test = ast.BoolOp(op=ast.And(), values=[test, loop.test])
    else:
        loop.ag_extra_tests = getattr(loop, "ag_extra_tests", []) + [test]


# -- return --------------------------------------------------------------------

class ReturnRewriter:
    def __init__(self, namer):
        self.namer = namer

    def rewrite(self, fn):
        """Rewrite the returns of ``fn`` (a FunctionDef) when one is inside
        control flow; returns whether it did."""
        body = fn.body
        top = sum(isinstance(s, ast.Return) for s in body)
        everywhere = sum(isinstance(n, ast.Return) for s in body for n in analysis.walk_scope(s))
        nested = everywhere > top
        if not nested:
            return False
        self.do_return = self.namer.new("do_return")
        self.retval = self.namer.new("retval_")
        doc = [body[0]] if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                            and isinstance(body[0].value.value, str)) else []
        new_body, _, _ = self.block(body[len(doc):])
        fn.body = doc + [stmt("{d} = False", d=self.do_return),
                         stmt("{r} = ag__.UndefinedReturnValue()", r=self.retval)] + new_body + \
            [stmt("return ag__.retval({r})", r=self.retval)]
        return True

    def block(self, stmts):
        """-> (statements, may return, definitely returns)"""
        out, may_any = [], False
        stmts = list(stmts)
        i = 0
        while i < len(stmts):
            s = stmts[i]
            rest = stmts[i + 1:]
            if isinstance(s, ast.If) and rest:
                body_ret, else_ret = analysis.definitely_returns(s.body), analysis.definitely_returns(s.orelse)
                if body_ret and not else_ret:  # if c: return a  (rest)  ->  if c: return a  else: rest
                    s.orelse = s.orelse + rest
                    rest = stmts = stmts[:i + 1]
                elif else_ret and not body_ret:
                    s.body = s.body + rest
                    rest = stmts = stmts[:i + 1]
            new, may, definite = self.statement(s)
            out.extend(new)
            if definite:
                return out, True, True  # the rest is dead code
            if may:
                may_any = True
                rest = stmts[i + 1:]
                if rest:
                    guarded, _, _ = self.block(rest)
                    out.append(guard(self.do_return, guarded))
                return out, True, False
            i += 1
        return out, may_any, False

    def statement(self, s):
        if isinstance(s, ast.Return):
            value = s.value if s.value is not None else ast.Constant(value=None)
            return [stmt("{d} = True", d=self.do_return),
                    ast.Assign(targets=[ast.Name(id=self.retval, ctx=ast.Store())], value=value)], True, True
        if isinstance(s, ast.If):
            s.body, m1, d1 = self.block(s.body)
            s.orelse, m2, d2 = self.block(s.orelse)
            if not s.body:
                s.body = [ast.Pass()]
            return [s], m1 or m2, d1 and d2
        if isinstance(s, _LOOPS):
            s.body, may, _ = self.block(s.body)
            if may:
                add_extra_test(s, not_flag(self.do_return))
                if s.orelse:
                    s.orelse = [guard(self.do_return, s.orelse)]
            return [s], may, False
        if isinstance(s, (ast.With, ast.AsyncWith)):
            s.body, may, definite = self.block(s.body)
            return [s], may, definite
        if isinstance(s, ast.Try):
            may = False
            for part in ("body", "orelse", "finalbody"):
                new, m, _ = self.block(getattr(s, part))
                setattr(s, part, new)
                may = may or m
            for h in s.handlers:
                h.body, m, _ = self.block(h.body)
                may = may or m
            if not s.body:
                s.body = [ast.Pass()]
            return [s], may, False
        return [s], False, False


# -- break / continue ----------------------------------------------------------

class LoopRewriter:
    def __init__(self, namer):
        self.namer = namer

    def block(self, stmts):
        """Rewrite every loop in the statements (not in nested functions)."""
        out = []
        for s in stmts:
            out.extend(self.statement(s))
        return out

    def statement(self, s):
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return [s]
        for part in ("body", "orelse", "finalbody"):
            if isinstance(getattr(s, part, None), list):
                setattr(s, part, self.block(getattr(s, part)))
        for h in getattr(s, "handlers", []):
            h.body = self.block(h.body)
        if isinstance(s, _LOOPS):
            return self.loop(s)
        return [s]

    def loop(self, node):
        before, after = [], []
        if analysis.contains(node.body, ast.Continue, through_loops=False):
            flag = self.namer.new("continue_")
            node.body = [stmt("{f} = False", f=flag)] + self.guarded(node.body, ast.Continue, flag)
        has_break = analysis.contains(node.body, ast.Break, through_loops=False)
        if has_break:
            flag = self.namer.new("break_")
            node.body = self.guarded(node.body, ast.Break, flag)
            before.append(stmt("{f} = False", f=flag))
            add_extra_test(node, not_flag(flag))
            if node.orelse:
                after.append(guard(flag, node.orelse))
        elif node.orelse:
            after.extend(node.orelse)  # no break: the else always runs
        node.orelse = []
        if not node.body:
            node.body = [ast.Pass()]
        return before + [node] + after

    def guarded(self, stmts, kind, flag):
        out = []
        for i, s in enumerate(stmts):
            if isinstance(s, kind):
                out.append(stmt("{f} = True", f=flag))
                return out  # the rest is dead code
            if not analysis.contains([s], kind, through_loops=False) or isinstance(s, _LOOPS):
                out.append(s)
                continue
            for part in ("body", "orelse", "finalbody"):
                if getattr(s, part, None):
                    setattr(s, part, self.guarded(getattr(s, part), kind, flag) or [ast.Pass()])
            for h in getattr(s, "handlers", []):
                h.body = self.guarded(h.body, kind, flag) or [ast.Pass()]
            out.append(s)
            rest = stmts[i + 1:]
            if rest:
                out.append(guard(flag, self.guarded(rest, kind, flag)))
            return out
        return out
