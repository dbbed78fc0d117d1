"""Static validation of a reward program: pure `ast` analysis against an allow-list (docs/REWARDS.md).

Never executes, compiles or imports anything from the program, so it is safe in the API process. Every
construct not explicitly allowed is rejected, each with a located message that says what to do instead.
"""

from __future__ import annotations

import ast
import difflib
import math
from collections.abc import Iterable, Mapping, Sequence

from server.rewards.helpers import HELPER_NAMES, JNP_ALLOWED, JNP_CONSTANTS, JNP_FUNCTIONS
from server.rewards.types import ProgramError, RewardTerm, ValidationReport

MAX_SOURCE_CHARS = 20_000
MAX_TERMS = 16
MAX_DEPTH = 40  # syntax-tree levels below a statement
MAX_LITERAL = 1e6
MAX_POW_EXPONENT = 4
MAX_ERRORS = 20  # more would bury the first, most useful ones
RESERVED = frozenset({"s", "jnp", "dict", "WEIGHTS"}) | HELPER_NAMES
VOCABULARY_HINT = "the full list is in the scene's vocabulary (GET /api/rewards/vocabulary/<scene_id>)"

_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.Mod)
_CMPOPS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
_FORBIDDEN_NODES: dict[type[ast.AST], str] = {
    ast.Import: "imports are not allowed: jnp, the helpers and s are already available",
    ast.ImportFrom: "imports are not allowed: jnp, the helpers and s are already available",
    ast.For: "loops are not allowed: use vectorised jnp functions (e.g. jnp.sum over an array)",
    ast.AsyncFor: "loops are not allowed: use vectorised jnp functions (e.g. jnp.sum over an array)",
    ast.While: "`while` loops are not allowed: use vectorised jnp functions",
    ast.If: "`if` is not allowed: the state is traced by JAX, so use jnp.where(condition, a, b)",
    ast.IfExp: "conditional expressions (`a if c else b`) are not allowed: use jnp.where(c, a, b)",
    ast.With: "`with` is not allowed in a reward program",
    ast.AsyncWith: "`with` is not allowed in a reward program",
    ast.Try: "`try` is not allowed: the program is checked before it runs",
    ast.Raise: "`raise` is not allowed in a reward program",
    ast.Global: "`global` is not allowed: terms may only assign their own local variables",
    ast.Nonlocal: "`nonlocal` is not allowed: terms may only assign their own local variables",
    ast.ClassDef: "classes are not allowed: a program is WEIGHTS plus one function per term",
    ast.Lambda: "`lambda` is not allowed: write the expression inline",
    ast.ListComp: "comprehensions are not allowed: use vectorised jnp functions",
    ast.SetComp: "comprehensions are not allowed: use vectorised jnp functions",
    ast.DictComp: "comprehensions are not allowed: use vectorised jnp functions",
    ast.GeneratorExp: "generator expressions are not allowed: use vectorised jnp functions",
    ast.JoinedStr: "f-strings are not allowed: a term returns a number, not text",
    ast.FormattedValue: "f-strings are not allowed: a term returns a number, not text",
    ast.NamedExpr: "`:=` is not allowed: assign with `name = ...` on its own line",
    ast.Await: "`await` is not allowed in a reward program",
    ast.Yield: "`yield` is not allowed: a term returns one number",
    ast.YieldFrom: "`yield` is not allowed: a term returns one number",
    ast.Starred: "`*` unpacking is not allowed: pass each argument explicitly",
    ast.Dict: "dict displays are not allowed (only `WEIGHTS = dict(...)` at the top level)",
    ast.Set: "set displays are not allowed",
    ast.Delete: "`del` is not allowed",
    ast.Assert: "`assert` is not allowed: the program is checked before it runs",
    ast.AsyncFunctionDef: "`async def` is not allowed: write `def <name>(s):`",
    ast.AnnAssign: "annotated assignments are not allowed: write `name = ...`",
    ast.Pass: "`pass` is not allowed: every term must return a value",
}


def _closest(name: str, options: Iterable[str], n: int = 5) -> list[str]:
    return difflib.get_close_matches(name, list(options), n=n, cutoff=0.5)


def _depth_error(tree: ast.Module) -> ProgramError | None:
    """Iterative depth measure: a recursive walk could itself overflow on a pathological tree."""
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH + 3:  # +3: module, function and statement levels are not "nesting"
            return ProgramError(
                line=getattr(node, "lineno", 0),
                column=getattr(node, "col_offset", 0),
                message=f"the program is nested more than {MAX_DEPTH} levels deep: "
                "split long expressions into local variables",
                stage="static",
            )
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return None


def _number(node: ast.expr) -> float | None:
    """The value of a numeric literal, optionally negated; None for anything else (bools included)."""
    sign = 1.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        node = node.operand
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    ):
        return sign * float(node.value)
    return None


class _Checker:
    def __init__(self, source: str, vocabulary: set[str], shapes: Mapping[str, Sequence[int]]) -> None:
        self.source = source
        self.vocabulary = vocabulary
        self.shapes = shapes
        self.errors: list[ProgramError] = []
        self.term_names: set[str] = set()

    def error(self, node: ast.AST | None, message: str) -> None:
        line = getattr(node, "lineno", 0) if node is not None else 0
        column = getattr(node, "col_offset", 0) if node is not None else 0
        self.errors.append(ProgramError(line=line, column=column, message=message, stage="static"))

    # ---- module level -------------------------------------------------------------------------
    def check_module(self, tree: ast.Module) -> list[RewardTerm]:
        weights: dict[str, tuple[float, ast.keyword]] = {}
        weights_node: ast.Assign | None = None
        functions: list[ast.FunctionDef] = []
        for index, stmt in enumerate(tree.body):
            if index == 0 and _is_docstring(stmt):
                continue
            if isinstance(stmt, ast.FunctionDef):
                functions.append(stmt)
            elif isinstance(stmt, ast.Assign) and _targets_weights(stmt):
                if weights_node is not None:
                    self.error(stmt, "WEIGHTS is assigned twice: keep exactly one `WEIGHTS = dict(...)`")
                    continue
                weights_node = stmt
                weights = self.check_weights(stmt)
            elif type(stmt) in _FORBIDDEN_NODES:
                self.error(stmt, _FORBIDDEN_NODES[type(stmt)])
            elif _is_docstring(stmt):
                self.error(stmt, "string literals are only allowed as docstrings (the first statement)")
            elif isinstance(stmt, ast.Assign | ast.AugAssign):
                self.error(
                    stmt,
                    "the only top-level assignment allowed is `WEIGHTS = dict(...)`; "
                    "put constants inside the term that uses them",
                )
            else:
                self.error(
                    stmt,
                    "only a docstring, `WEIGHTS = dict(...)` and `def <term>(s):` are allowed "
                    "at the top level",
                )
        if weights_node is None:
            self.error(None, "missing `WEIGHTS = dict(<term>=<number>, ...)` giving each term's weight")
        if len(functions) > MAX_TERMS:
            self.error(functions[MAX_TERMS], f"too many terms ({len(functions)}): at most {MAX_TERMS}")
        if not functions:
            self.error(None, "no terms: define at least one `def <term>(s):` returning a number")
        seen: set[str] = set()
        for fn in functions:
            if fn.name in seen:
                self.error(fn, f"term `{fn.name}` is defined twice")
            seen.add(fn.name)
        self.term_names = seen
        terms: list[RewardTerm] = []
        for fn in functions:
            self.check_function(fn)
            if weights_node is not None and fn.name not in weights:
                self.error(
                    fn,
                    f"term `{fn.name}` has no weight: add `{fn.name}=<number>` to WEIGHTS "
                    "(negative for a penalty)",
                )
            weight = weights.get(fn.name, (0.0, None))[0]
            code = ast.get_source_segment(self.source, fn) or ""
            terms.append(
                RewardTerm(name=fn.name, type="penalty" if weight < 0 else "reward", weight=weight, code=code)
            )
        for name, (_, kw) in weights.items():
            if name not in seen:
                hint = _closest(name, seen)
                self.error(
                    kw,
                    f"WEIGHTS names `{name}` but no term function `def {name}(s):` exists"
                    + (f"; did you mean {', '.join(hint)}?" if hint else ""),
                )
        return terms

    def check_weights(self, stmt: ast.Assign) -> dict[str, tuple[float, ast.keyword]]:
        call = stmt.value
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "dict"):
            self.error(stmt, "write the weights as `WEIGHTS = dict(term_name=1.0, other=-0.1)`")
            return {}
        if call.args:
            self.error(call, "WEIGHTS takes keyword arguments only: `dict(term_name=1.0, ...)`")
        weights: dict[str, tuple[float, ast.keyword]] = {}
        for kw in call.keywords:
            if kw.arg is None:
                self.error(kw, "`**` is not allowed in WEIGHTS: list each term's weight")
                continue
            value = _number(kw.value)
            if value is None:
                self.error(kw.value, f"the weight of `{kw.arg}` must be a number literal like 1.0 or -0.01")
                continue
            if not math.isfinite(value) or abs(value) > MAX_LITERAL:
                self.error(kw.value, f"the weight of `{kw.arg}` must be finite and at most {MAX_LITERAL:g}")
                continue
            weights[kw.arg] = (value, kw)
        return weights

    # ---- terms --------------------------------------------------------------------------------
    def check_function(self, fn: ast.FunctionDef) -> None:
        if fn.name.startswith("_"):
            self.error(fn, f"term names cannot start with `_` (`{fn.name}`)")
        if fn.name in RESERVED:
            self.error(fn, f"`{fn.name}` is a reserved name (a helper or built-in); rename the term")
        if fn.decorator_list:
            self.error(fn.decorator_list[0], "decorators are not allowed on terms")
        a = fn.args
        if (
            a.posonlyargs
            or a.kwonlyargs
            or a.vararg
            or a.kwarg
            or a.defaults
            or a.kw_defaults
            or len(a.args) != 1
            or a.args[0].arg != "s"
        ):
            self.error(fn, f"a term takes exactly one parameter named s: write `def {fn.name}(s):`")
        elif a.args[0].annotation is not None or fn.returns is not None:
            self.error(fn, f"annotations are not allowed: write `def {fn.name}(s):`")
        body = fn.body
        if body and _is_docstring(body[0]):
            body = body[1:]
        if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
            self.error(fn, f"term `{fn.name}` must end with `return <expression>`")
        local: set[str] = set()
        for stmt in body:
            self.check_statement(stmt, local, fn.name)

    def check_statement(self, stmt: ast.stmt, local: set[str], term: str) -> None:
        if isinstance(stmt, ast.Return):
            if stmt.value is not None:
                self.check_expr(stmt.value, local)
        elif isinstance(stmt, ast.Assign):
            self.check_expr(stmt.value, local)
            if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                self.error(stmt, "assign one plain name at a time: `name = <expression>`")
                return
            self.bind(stmt.targets[0], local)
        elif isinstance(stmt, ast.AugAssign):
            self.check_expr(stmt.value, local)
            if not isinstance(stmt.target, ast.Name) or stmt.target.id not in local:
                self.error(stmt, "`+=` and friends need a local variable assigned earlier in the term")
            elif not isinstance(stmt.op, _BINOPS):
                self.error(stmt, "only + - * / ** % are allowed")
        elif type(stmt) in _FORBIDDEN_NODES:
            self.error(stmt, _FORBIDDEN_NODES[type(stmt)])
        elif isinstance(stmt, ast.FunctionDef):
            self.error(stmt, f"functions inside term `{term}` are not allowed: define terms at the top level")
        elif _is_docstring(stmt):
            self.error(stmt, "string literals are only allowed as docstrings")
        elif isinstance(stmt, ast.Expr):
            self.check_expr(stmt.value, local)
            self.error(stmt, "an expression on its own line does nothing: assign it or return it")
        else:
            self.error(stmt, f"`{type(stmt).__name__}` statements are not allowed in a term")

    def bind(self, target: ast.Name, local: set[str]) -> None:
        name = target.id
        if name.startswith("_"):
            self.error(target, f"names cannot start with `_` (`{name}`)")
        elif name in RESERVED or name in self.term_names:
            self.error(target, f"`{name}` is reserved (s, jnp, a helper or a term); choose another name")
        else:
            local.add(name)

    def check_expr(self, node: ast.expr, local: set[str]) -> None:
        if type(node) in _FORBIDDEN_NODES:
            self.error(node, _FORBIDDEN_NODES[type(node)])
        elif isinstance(node, ast.Constant):
            self.check_constant(node)
        elif isinstance(node, ast.Name):
            self.check_name(node, local)
        elif isinstance(node, ast.Attribute):
            self.check_attribute(node, local)
        elif isinstance(node, ast.BinOp):
            if not isinstance(node.op, _BINOPS):
                self.error(node, f"operator `{type(node.op).__name__}` is not allowed; use + - * / ** %")
            if isinstance(node.op, ast.Pow):
                exponent = _number(node.right)
                if exponent is None or abs(exponent) > MAX_POW_EXPONENT:
                    self.error(
                        node.right,
                        f"`**` needs a literal exponent between -{MAX_POW_EXPONENT} and "
                        f"{MAX_POW_EXPONENT}; use jnp.square, jnp.sqrt or jnp.exp for others",
                    )
                    self.check_expr(node.left, local)
                    return
            self.check_expr(node.left, local)
            self.check_expr(node.right, local)
        elif isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Invert):
                self.error(node, "`~` is not allowed; use jnp.logical_not")
            self.check_expr(node.operand, local)
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                self.check_expr(value, local)
        elif isinstance(node, ast.Compare):
            for op in node.ops:
                if not isinstance(op, _CMPOPS):
                    self.error(node, "only < <= > >= == != comparisons are allowed")
            self.check_expr(node.left, local)
            for comparator in node.comparators:
                self.check_expr(comparator, local)
        elif isinstance(node, ast.Call):
            self.check_call(node, local)
        elif isinstance(node, ast.Subscript):
            self.check_expr(node.value, local)
            self.check_index(node.slice)
            self.check_bounds(node)
        elif isinstance(node, ast.Tuple | ast.List):
            for element in node.elts:
                self.check_expr(element, local)
        else:
            self.error(node, f"`{type(node).__name__}` expressions are not allowed in a term")

    def check_constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, str | bytes):
            self.error(node, "string literals are only allowed as docstrings")
        elif isinstance(value, bool) or value is None or value is Ellipsis:
            self.error(
                node, f"`{value!r}` is not allowed here; use numbers (and comparisons for truth values)"
            )
        elif isinstance(value, complex):
            self.error(node, "complex numbers are not allowed")
        elif isinstance(value, int | float) and (not math.isfinite(value) or abs(value) > MAX_LITERAL):
            self.error(node, f"numeric literals must be at most {MAX_LITERAL:g} in absolute value")

    def check_name(self, node: ast.Name, local: set[str]) -> None:
        name = node.id
        if name.startswith("_"):
            self.error(node, f"names starting with `_` are not allowed (`{name}`)")
        elif name in local:
            return
        elif name == "s":
            self.error(node, "use s only as `s.<vocabulary name>`, e.g. s.qpos")
        elif name == "jnp":
            self.error(node, "use jnp only as `jnp.<function>(...)`, e.g. jnp.sum(x)")
        elif name in HELPER_NAMES:
            self.error(node, f"`{name}` is a helper function: call it, `{name}(...)`")
        elif name in self.term_names:
            self.error(node, f"terms cannot use other terms (`{name}`): compute shared quantities inline")
        else:
            hint = _closest(name, local)
            self.error(
                node,
                f"unknown name `{name}`: a term may read s.<name>, jnp.<function>, the helpers "
                "and its own variables assigned above"
                + (f"; did you mean {', '.join(hint)}?" if hint else ""),
            )

    def check_attribute(self, node: ast.Attribute, local: set[str] | None = None) -> None:
        attr = node.attr
        base = node.value
        if attr.startswith("_"):
            self.error(node, f"attributes starting with `_` are not allowed (`.{attr}`)")
        elif not isinstance(base, ast.Name) or base.id not in ("s", "jnp"):
            if not isinstance(base, ast.Name):
                self.check_expr(base, local or set())  # report what the chain starts with, too
            self.error(
                node,
                f"attribute access is only allowed on s and jnp (`.{attr}`); "
                "use jnp functions on values, e.g. jnp.sum(x) instead of x.sum()",
            )
        elif base.id == "s" and attr not in self.vocabulary:
            hint = _closest(attr, self.vocabulary)
            self.error(
                node,
                f"`s.{attr}` is not in this scene's vocabulary"
                + (f"; closest: {', '.join('s.' + h for h in hint)}" if hint else "")
                + f"; {VOCABULARY_HINT}",
            )
        elif base.id == "jnp" and attr not in JNP_ALLOWED:
            hint = [*_closest(attr, JNP_FUNCTIONS, 3), "sum", "mean", "square", "exp", "where", "clip"]
            hint = list(dict.fromkeys(hint))
            self.error(
                node,
                f"`jnp.{attr}` is not allowed; allowed jnp names include {', '.join(hint)} "
                f"(all {len(JNP_FUNCTIONS)} are listed in the vocabulary)",
            )

    def check_call(self, node: ast.Call, local: set[str]) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "jnp":
            self.check_attribute(func)
            if func.attr in JNP_CONSTANTS:
                self.error(node, f"jnp.{func.attr} is a constant, not a function")
        elif isinstance(func, ast.Name) and func.id in HELPER_NAMES:
            pass
        elif isinstance(func, ast.Name):
            if func.id.startswith("_"):
                self.error(func, f"names starting with `_` are not allowed (`{func.id}`)")
            elif func.id in self.term_names:
                self.error(
                    func, f"terms cannot call other terms (`{func.id}`): compute shared quantities inline"
                )
            else:
                hint = _closest(func.id, HELPER_NAMES) + _closest(func.id, JNP_FUNCTIONS, 3)
                self.error(
                    func,
                    f"`{func.id}(...)` is not an allowed function; call jnp.<function> or a "
                    "helper (tolerance, exp_kernel, clip, norm)"
                    + (f"; did you mean {', '.join(hint)}?" if hint else ""),
                )
        else:
            self.check_expr(func, local)
            self.error(func, "only jnp.<function>(...) and the helpers can be called")
        if node.keywords:
            self.error(
                node.keywords[0],
                "keyword arguments are not allowed: pass arguments by position, e.g. jnp.sum(x, 0)",
            )
        for arg in node.args:
            self.check_expr(arg, local)

    def check_index(self, node: ast.expr) -> None:
        parts = node.elts if isinstance(node, ast.Tuple) else [node]
        for part in parts:
            if isinstance(part, ast.Slice):
                for bound in (part.lower, part.upper, part.step):
                    if bound is not None and not _is_int(bound):
                        self.error(bound, "slice bounds must be integer literals, e.g. x[0:3]")
            elif not _is_int(part):
                self.error(part, "indexes must be integer literals or literal slices, e.g. x[0], x[:, 2]")

    def check_bounds(self, node: ast.Subscript) -> None:
        """`s.x[i]` with a literal i outside x's shape: JAX would clamp it and silently read another entry."""
        target = node.value
        if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)):
            return
        if target.value.id != "s" or target.attr not in self.shapes:
            return
        shape = list(self.shapes[target.attr])
        parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        for axis, part in enumerate(parts):
            if axis >= len(shape):
                self.error(node, f"s.{target.attr} has shape {shape}: too many indexes")
                return
            index = _number(part) if not isinstance(part, ast.Slice) and _is_int(part) else None
            if index is not None and not -shape[axis] <= index < shape[axis]:
                self.error(
                    part,
                    f"index {int(index)} is out of range for s.{target.attr} of shape {shape} "
                    f"(valid: 0..{shape[axis] - 1})",
                )


def _is_int(node: ast.expr) -> bool:
    value = _number(node)
    inner = node.operand if isinstance(node, ast.UnaryOp) else node
    return value is not None and isinstance(inner, ast.Constant) and type(inner.value) is int


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _targets_weights(stmt: ast.Assign) -> bool:
    return any(isinstance(t, ast.Name) and t.id == "WEIGHTS" for t in stmt.targets)


def _fail(message: str, stage: str = "static", line: int = 0, column: int = 0) -> ValidationReport:
    error = ProgramError(
        line=line, column=column, message=message, stage="syntax" if stage == "syntax" else "static"
    )
    return ValidationReport(ok=False, errors=[error], terms=[])


def parse_program(source: str) -> ast.Module | ValidationReport:
    """Parse with every failure mode of `ast.parse` turned into a report (shared with compile.py)."""
    if len(source) > MAX_SOURCE_CHARS:
        return _fail(f"the program is {len(source)} characters long; the limit is {MAX_SOURCE_CHARS}")
    if "\x00" in source:  # ast.parse raises ValueError (3.11) or SyntaxError (3.12+) on these
        return _fail("the program contains a null byte", "syntax")
    try:
        return ast.parse(source, filename="<reward>", mode="exec")
    except SyntaxError as exc:
        return _fail(f"syntax error: {exc.msg}", "syntax", exc.lineno or 0, max((exc.offset or 1) - 1, 0))
    except (RecursionError, MemoryError):
        return _fail(f"the program is nested too deeply to parse; keep it under {MAX_DEPTH} levels", "syntax")
    except ValueError as exc:
        return _fail(f"the program cannot be parsed: {exc}", "syntax")


def static_check(
    source: str, vocabulary: set[str], shapes: Mapping[str, Sequence[int]] | None = None
) -> ValidationReport:
    """Check `source` against docs/REWARDS.md for a scene whose vocabulary names are `vocabulary`;
    with `shapes` (name -> shape), literal indexes are checked against them too.

    Returns every error found (up to MAX_ERRORS, in source order) and the terms with their weights and
    source; `terms` is empty only when the program could not be parsed.
    """
    tree = parse_program(source)
    if isinstance(tree, ValidationReport):
        return tree
    depth_error = _depth_error(tree)
    if depth_error is not None:
        return ValidationReport(ok=False, errors=[depth_error], terms=[])
    checker = _Checker(source, vocabulary, shapes or {})
    terms = checker.check_module(tree)
    errors = sorted(checker.errors, key=lambda e: (e.line, e.column))[:MAX_ERRORS]
    return ValidationReport(ok=not errors, errors=errors, terms=terms)
