"""Static analysis of one function's AST for AutoGraph: which names a
statement assigns, which it reads, and which are live after it.

All of it is deliberately simple and errs on the safe side: a name counted
live when it is not only makes it an output of a cond or a loop variable
(it must then be defined on every path, or a clear error says so).
"""
import ast

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _target_names(target, out):
    """Names a ``for`` target, an assignment target or a ``with ... as`` binds."""
    if isinstance(target, ast.Name):
        out.add(target.id)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            _target_names(elt, out)
    elif isinstance(target, ast.Starred):
        _target_names(target.value, out)
    return out


def target_names(target):
    return _target_names(target, set())


class _Assigned(ast.NodeVisitor):
    """Names bound in the current scope (nested functions, classes, lambdas
    and comprehensions have scopes of their own; only their name is bound)."""

    def __init__(self):
        self.names = set()

    def visit_Name(self, node):
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self.names.add(node.id)

    def _scope(self, node):
        self.names.add(node.name)
        for d in node.decorator_list:
            self.visit(d)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scope

    def visit_Lambda(self, node):
        pass

    def _comprehension(self, node):
        for sub in ast.walk(node):  # only a walrus binds in the enclosing scope
            if isinstance(sub, ast.NamedExpr):
                _target_names(sub.target, self.names)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_ExceptHandler(self, node):
        if node.name:
            self.names.add(node.name)
        self.generic_visit(node)

    def visit_alias(self, node):
        self.names.add((node.asname or node.name).split(".")[0])

    def visit_Global(self, node):
        pass

    visit_Nonlocal = visit_Global


def assigned(nodes):
    """The names the statements (or one node) bind in their own scope."""
    v = _Assigned()
    for n in nodes if isinstance(nodes, list) else [nodes]:
        v.visit(n)
    return v.names


def reads(nodes):
    """Every name loaded anywhere under the nodes, nested scopes included
    (a superset of what the statements read)."""
    out = set()
    for n in nodes if isinstance(nodes, list) else [nodes]:
        if n is None:
            continue
        for sub in ast.walk(n):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                out.add(sub.id)
            elif isinstance(sub, ast.AugAssign) and isinstance(sub.target, ast.Name):
                out.add(sub.target.id)
    return out


def declared(body):
    """Names a function body declares ``global`` and ``nonlocal``."""
    glob, nonloc = set(), set()
    for node in body:
        for sub in walk_scope(node):
            if isinstance(sub, ast.Global):
                glob.update(sub.names)
            elif isinstance(sub, ast.Nonlocal):
                nonloc.update(sub.names)
    return glob, nonloc


def walk_scope(node):
    """ast.walk that does not enter nested scopes."""
    todo = [node]
    while todo:
        n = todo.pop()
        yield n
        if isinstance(n, _SCOPES + _COMPREHENSIONS):
            continue
        todo.extend(ast.iter_child_nodes(n))


def contains(nodes, kinds, through_loops=True):
    """Whether a node of ``kinds`` occurs in the current scope of the
    statements (not in nested functions; not in nested loops unless
    ``through_loops``)."""
    todo = list(nodes)
    while todo:
        n = todo.pop()
        if isinstance(n, kinds):
            return True
        if isinstance(n, _SCOPES + _COMPREHENSIONS):
            continue
        if not through_loops and isinstance(n, (ast.For, ast.While, ast.AsyncFor)):
            todo.extend(n.orelse)  # a loop's else belongs to the enclosing loop
            continue
        todo.extend(ast.iter_child_nodes(n))
    return False


# -- liveness ------------------------------------------------------------------

def block_live(stmts, live):
    """Names live before ``stmts`` given the names live after them."""
    for s in reversed(stmts):
        live = stmt_live(s, live)
    return live


def loop_head_live(node, live_after):
    """Names live at the top of a loop (before its test / each iteration)."""
    after = live_after | block_live(node.orelse, live_after)
    head = set(after)
    if isinstance(node, ast.While):
        head |= reads(node.test)
    extra = getattr(node, "ag_extra_tests", [])
    head |= reads(extra)
    for _ in range(50):  # a fixed point; the sets only grow
        body_in = block_live(node.body, head)
        if isinstance(node, (ast.For, ast.AsyncFor)):
            body_in = (body_in - target_names(node.target)) | reads(node.target)
        new = head | body_in
        if new == head:
            break
        head = new
    return head


def stmt_live(s, live):
    if isinstance(s, ast.If):
        return reads(s.test) | block_live(s.body, live) | block_live(s.orelse, live)
    if isinstance(s, ast.While):
        return loop_head_live(s, live)
    if isinstance(s, (ast.For, ast.AsyncFor)):
        return reads(s.iter) | loop_head_live(s, live)
    if isinstance(s, ast.Return):
        return reads(s.value)
    if isinstance(s, (ast.Try, ast.With, ast.AsyncWith)) or (hasattr(ast, "TryStar") and isinstance(s, ast.TryStar)):
        return set(live) | reads([s])  # no kills through bodies that may not finish
    if isinstance(s, _SCOPES):
        return (live - {s.name}) | reads([s])
    if isinstance(s, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = s.targets if isinstance(s, ast.Assign) else [s.target]
        kills = set()
        for t in targets:
            _target_names(t, kills)
        if isinstance(s, ast.AugAssign):
            kills = set()
        return (live - kills) | reads([s])
    return (live - assigned([s])) | reads([s])


# -- returns -------------------------------------------------------------------

def definitely_returns(stmts):
    for s in stmts:
        if isinstance(s, ast.Return):
            return True
        if isinstance(s, ast.If) and definitely_returns(s.body) and definitely_returns(s.orelse):
            return True
        if isinstance(s, (ast.With, ast.AsyncWith)) and definitely_returns(s.body):
            return True
    return False
