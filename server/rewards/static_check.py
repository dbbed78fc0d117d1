"""Static validation of a reward program: pure `ast` analysis against an allow-list (docs/REWARDS.md).

Never executes, compiles or imports anything from the program, so it is safe in the API process. Every
construct not explicitly allowed is rejected, each with a located message that says what to do instead.

The check is also the only way to build the program's checked tree (program.py): each method returns
the tree node for what it accepted, or None. Workers interpret that tree and nothing else, so what runs
is exactly what was validated (see interpret.py).
"""

from __future__ import annotations

import ast
import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TypeGuard, overload

from server.checks.types import CheckFigure
from server.rewards import program as ir
from server.rewards.helpers import HELPER_NAMES, JNP_ALLOWED, JNP_CONSTANTS, JNP_FUNCTIONS
from server.rewards.types import ProgramError, RewardTerm, ValidationReport

MAX_SOURCE_CHARS = 20_000
MAX_TERMS = 16
MAX_DEPTH = 40  # syntax-tree levels below a statement
MAX_LITERAL = 1e6
MAX_POW_EXPONENT = 4
MAX_ERRORS = 20  # more would bury the first, most useful ones
REQUIREMENTS = ("AT_LEAST", "AT_MOST")  # a check program's declarations (docs/CHECKS.md)
RESERVED = frozenset({"s", "jnp", "dict", "WEIGHTS", *REQUIREMENTS}) | HELPER_NAMES
ProgramKind = Literal["reward", "check"]
VOCABULARY_HINT = "the full list is in the scene's vocabulary (GET /api/rewards/vocabulary/<scene_id>)"

_BINOPS: dict[type[ast.operator], ir.BinaryOperator] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.Mod: "%",
}  # fmt: skip
_CMPOPS: dict[type[ast.cmpop], ir.CompareOperator] = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
}  # fmt: skip
_UNARYOPS: dict[type[ast.unaryop], ir.UnaryOperator] = {ast.USub: "-", ast.UAdd: "+", ast.Not: "not"}
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
    def __init__(
        self,
        source: str,
        vocabulary: set[str],
        shapes: Mapping[str, Sequence[int]],
        kind: ProgramKind = "reward",
    ) -> None:
        self.kind = kind
        self.source = source
        self.vocabulary = vocabulary
        self.shapes = shapes
        self.errors: list[ProgramError] = []
        self.term_names: set[str] = set()
        self.unit = "term" if kind == "reward" else "figure"

    def error(self, node: ast.AST | None, message: str) -> None:
        line = getattr(node, "lineno", 0) if node is not None else 0
        column = getattr(node, "col_offset", 0) if node is not None else 0
        self.errors.append(ProgramError(line=line, column=column, message=message, stage="static"))

    # ---- module level -------------------------------------------------------------------------
    def check_module(self, tree: ast.Module) -> tuple[list[RewardTerm], ir.Program | None]:
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
        checked: list[ir.Term | None] = []
        for fn in functions:
            checked.append(self.check_function(fn))
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
        if self.errors or not all(checked):
            return terms, None
        program = ir.Program(
            terms=tuple(term for term in checked if term is not None),
            weights={name: value for name, (value, _) in weights.items()},
        )
        return terms, program

    def check_check_module(self, tree: ast.Module) -> tuple[list[CheckFigure], ir.CheckProgram | None]:
        """A success check: AT_LEAST / AT_MOST (at least one requirement) and one function per figure."""
        tables: dict[str, dict[str, tuple[float, ast.keyword]]] = {}
        functions: list[ast.FunctionDef] = []
        for index, stmt in enumerate(tree.body):
            if index == 0 and _is_docstring(stmt):
                continue
            table = next(
                (t for t in REQUIREMENTS if isinstance(stmt, ast.Assign) and _targets_weights(stmt, t)), None
            )
            if isinstance(stmt, ast.FunctionDef):
                functions.append(stmt)
            elif table is not None and isinstance(stmt, ast.Assign):
                if table in tables:
                    self.error(stmt, f"{table} is assigned twice: keep exactly one `{table} = dict(...)`")
                    continue
                tables[table] = self.check_weights(stmt, table, "threshold")
            elif type(stmt) in _FORBIDDEN_NODES:
                self.error(stmt, _FORBIDDEN_NODES[type(stmt)])
            elif _is_docstring(stmt):
                self.error(stmt, "string literals are only allowed as docstrings (the first statement)")
            elif isinstance(stmt, ast.Assign) and _targets_weights(stmt):
                self.error(
                    stmt, "a check has no WEIGHTS: declare `AT_LEAST = dict(...)` / `AT_MOST = dict(...)`"
                )
            elif isinstance(stmt, ast.Assign | ast.AugAssign):
                self.error(
                    stmt,
                    "the only top-level assignments allowed are `AT_LEAST = dict(...)` and "
                    "`AT_MOST = dict(...)`; put constants inside the figure that uses them",
                )
            else:
                self.error(
                    stmt,
                    "only a docstring, `AT_LEAST = dict(...)`, `AT_MOST = dict(...)` and "
                    "`def <figure>(s):` are allowed at the top level",
                )
        at_least = {name: value for name, (value, _) in tables.get("AT_LEAST", {}).items()}
        at_most = {name: value for name, (value, _) in tables.get("AT_MOST", {}).items()}
        if not tables:
            self.error(
                None,
                "missing requirements: declare `AT_LEAST = dict(<figure>=<number>)` and/or "
                "`AT_MOST = dict(...)`, or the check can never fail",
            )
        elif not at_least and not at_most and not self.errors:
            self.error(None, "the requirements are empty: name at least one figure in AT_LEAST or AT_MOST")
        if len(functions) > MAX_TERMS:
            self.error(functions[MAX_TERMS], f"too many figures ({len(functions)}): at most {MAX_TERMS}")
        if not functions:
            self.error(None, "no figures: define at least one `def <figure>(s):` returning a number")
        seen: set[str] = set()
        for fn in functions:
            if fn.name in seen:
                self.error(fn, f"figure `{fn.name}` is defined twice")
            seen.add(fn.name)
        self.term_names = seen
        figures: list[CheckFigure] = []
        checked: list[ir.Term | None] = []
        for fn in functions:
            term = self.check_function(fn)
            if term is not None and not ir.entries_read(term):
                self.error(
                    fn,
                    f"figure `{fn.name}` reads nothing from the rollout (no s.<name>), so it is the same "
                    "whatever the robot does: compute it from the robot's state",
                )
                term = None
            checked.append(term)
            figures.append(
                CheckFigure(
                    name=fn.name,
                    at_least=at_least.get(fn.name),
                    at_most=at_most.get(fn.name),
                    code=ast.get_source_segment(self.source, fn) or "",
                )
            )
        for table, entries in tables.items():
            for name, (_, kw) in entries.items():
                if name not in seen:
                    hint = _closest(name, seen)
                    self.error(
                        kw,
                        f"{table} names `{name}` but no figure function `def {name}(s):` exists"
                        + (f"; did you mean {', '.join(hint)}?" if hint else ""),
                    )
        if self.errors or not all(checked):
            return figures, None
        program = ir.CheckProgram(
            figures=tuple(term for term in checked if term is not None), at_least=at_least, at_most=at_most
        )
        return figures, program

    def check_weights(
        self, stmt: ast.Assign, table: str = "WEIGHTS", what: str = "weight"
    ) -> dict[str, tuple[float, ast.keyword]]:
        """`<table> = dict(name=<number literal>, ...)`: WEIGHTS of a reward, AT_LEAST/AT_MOST of a check."""
        if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
            # `WEIGHTS = x = ...` or `WEIGHTS = jnp.__dict__[...] = ...`: a second target is code too.
            self.error(stmt, f"assign {table} on its own: `{table} = dict(...)`, with no other target")
            return {}
        call = stmt.value
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "dict"):
            example = "term_name=1.0, other=-0.1" if table == "WEIGHTS" else "figure_name=0.9"
            self.error(stmt, f"write it as `{table} = dict({example})`")
            return {}
        if call.args:
            self.error(call, f"{table} takes keyword arguments only: `dict(name=number, ...)`")
        weights: dict[str, tuple[float, ast.keyword]] = {}
        for kw in call.keywords:
            if kw.arg is None:
                self.error(kw, f"`**` is not allowed in {table}: list each name and its number")
                continue
            value = _number(kw.value)
            if value is None:
                self.error(kw.value, f"the {what} of `{kw.arg}` must be a number literal like 1.0 or -0.01")
                continue
            if not math.isfinite(value) or abs(value) > MAX_LITERAL:
                self.error(kw.value, f"the {what} of `{kw.arg}` must be finite and at most {MAX_LITERAL:g}")
                continue
            weights[kw.arg] = (value, kw)
        return weights

    # ---- terms --------------------------------------------------------------------------------
    def check_function(self, fn: ast.FunctionDef) -> ir.Term | None:
        errors_before = len(self.errors)
        if fn.name.startswith("_"):
            self.error(fn, f"{self.unit} names cannot start with `_` (`{fn.name}`)")
        if fn.name in RESERVED:
            self.error(fn, f"`{fn.name}` is a reserved name (a helper or built-in); rename it")
        if fn.decorator_list:
            self.error(fn.decorator_list[0], f"decorators are not allowed on {self.unit}s")
        if getattr(fn, "type_params", None):  # Python 3.12+: `def t[T](s):`
            self.error(fn, f"type parameters are not allowed: write `def {fn.name}(s):`")
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
            self.error(fn, f"a {self.unit} takes exactly one parameter named s: write `def {fn.name}(s):`")
        elif a.args[0].annotation is not None or fn.returns is not None:
            self.error(fn, f"annotations are not allowed: write `def {fn.name}(s):`")
        body = fn.body
        if body and _is_docstring(body[0]):
            body = body[1:]
        if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
            self.error(fn, f"{self.unit} `{fn.name}` must end with `return <expression>`")
        local: set[str] = set()
        statements = [self.check_statement(stmt, local, fn.name) for stmt in body]
        if len(self.errors) > errors_before or not _all_checked(statements):
            return None
        return ir.Term(name=fn.name, body=tuple(statements), line=fn.lineno)

    def check_statement(self, stmt: ast.stmt, local: set[str], term: str) -> ir.Statement | None:
        if isinstance(stmt, ast.Return):
            if stmt.value is None:
                self.error(stmt, "a bare `return` is not allowed: return a number")
                return None
            value = self.check_expr(stmt.value, local)
            return ir.Return(value, stmt.lineno) if value is not None else None
        if isinstance(stmt, ast.Assign):
            value = self.check_expr(stmt.value, local)
            if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                self.error(stmt, "assign one plain name at a time: `name = <expression>`")
                return None
            name = self.bind(stmt.targets[0], local)
            return ir.Assign(name, value, stmt.lineno) if value is not None and name else None
        if isinstance(stmt, ast.AugAssign):
            value = self.check_expr(stmt.value, local)
            op = _BINOPS.get(type(stmt.op))
            if not isinstance(stmt.target, ast.Name) or stmt.target.id not in local:
                self.error(stmt, "`+=` and friends need a local variable assigned earlier in the term")
            elif op is None:
                self.error(stmt, "only + - * / ** % are allowed")
            elif op == "**":
                self.error(stmt, "`**=` is not allowed: write `x = x ** <literal exponent>`")
            elif value is not None:
                return ir.AugAssign(stmt.target.id, op, value, stmt.lineno)
            return None
        if type(stmt) in _FORBIDDEN_NODES:
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
        return None

    def bind(self, target: ast.Name, local: set[str]) -> str | None:
        name = target.id
        if name.startswith("_"):
            self.error(target, f"names cannot start with `_` (`{name}`)")
        elif name in RESERVED or name in self.term_names:
            self.error(target, f"`{name}` is reserved (s, jnp, a helper or a term); choose another name")
        else:
            local.add(name)
            return name
        return None

    def check_expr(self, node: ast.expr, local: set[str]) -> ir.Expr | None:
        """The checked tree for `node`, or None after reporting why it is not allowed."""
        line = getattr(node, "lineno", 0)
        if type(node) in _FORBIDDEN_NODES:
            self.error(node, _FORBIDDEN_NODES[type(node)])
        elif isinstance(node, ast.Constant):
            return self.check_constant(node)
        elif isinstance(node, ast.Name):
            return self.check_name(node, local)
        elif isinstance(node, ast.Attribute):
            return self.check_attribute(node, local)
        elif isinstance(node, ast.BinOp):
            return self.check_binop(node, local)
        elif isinstance(node, ast.UnaryOp):
            unary = _UNARYOPS.get(type(node.op))
            if unary is None:
                self.error(node, "`~` is not allowed; use jnp.logical_not")
            operand = self.check_expr(node.operand, local)
            if unary is not None and operand is not None:
                return ir.UnaryOp(unary, operand, line)
        elif isinstance(node, ast.BoolOp):
            values = [self.check_expr(value, local) for value in node.values]
            op: Literal["and", "or"] = "and" if isinstance(node.op, ast.And) else "or"
            if _all_checked(values):
                return ir.Logical(op, tuple(values), line)
        elif isinstance(node, ast.Compare):
            ops = [_CMPOPS.get(type(op)) for op in node.ops]
            if None in ops:
                self.error(node, "only < <= > >= == != comparisons are allowed")
            left = self.check_expr(node.left, local)
            comparators = [self.check_expr(comparator, local) for comparator in node.comparators]
            if left is not None and _all_checked(comparators) and _all_checked(ops):
                return ir.Compare(left, tuple(ops), tuple(comparators), line)
        elif isinstance(node, ast.Call):
            return self.check_call(node, local)
        elif isinstance(node, ast.Subscript):
            value = self.check_expr(node.value, local)
            parts = self.check_index(node.slice)
            self.check_bounds(node)
            if value is not None and parts is not None:
                return ir.Index(value, parts, isinstance(node.slice, ast.Tuple), line)
        elif isinstance(node, ast.Tuple | ast.List):
            elements = [self.check_expr(element, local) for element in node.elts]
            kind: Literal["list", "tuple"] = "list" if isinstance(node, ast.List) else "tuple"
            if _all_checked(elements):
                return ir.Sequence(kind, tuple(elements), line)
        else:
            self.error(node, f"`{type(node).__name__}` expressions are not allowed in a term")
        return None

    def check_binop(self, node: ast.BinOp, local: set[str]) -> ir.Expr | None:
        op = _BINOPS.get(type(node.op))
        if op is None:
            self.error(node, f"operator `{type(node.op).__name__}` is not allowed; use + - * / ** %")
        if op == "**":
            exponent = _number(node.right)
            if exponent is None or abs(exponent) > MAX_POW_EXPONENT:
                self.error(
                    node.right,
                    f"`**` needs a literal exponent between -{MAX_POW_EXPONENT} and "
                    f"{MAX_POW_EXPONENT}; use jnp.square, jnp.sqrt or jnp.exp for others",
                )
                self.check_expr(node.left, local)
                return None
        left = self.check_expr(node.left, local)
        right = self.check_expr(node.right, local)
        if op is None or left is None or right is None:
            return None
        return ir.BinOp(op, left, right, node.lineno)

    def check_constant(self, node: ast.Constant) -> ir.Expr | None:
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
        elif type(value) is int or type(value) is float:
            return ir.Num(value, node.lineno)
        else:
            self.error(node, f"`{value!r}` is not allowed here; use numbers")
        return None

    def check_name(self, node: ast.Name, local: set[str]) -> ir.Expr | None:
        name = node.id
        if name.startswith("_"):
            self.error(node, f"names starting with `_` are not allowed (`{name}`)")
        elif name in local:
            return ir.Local(name, node.lineno)
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
        return None

    def check_attribute(self, node: ast.Attribute, local: set[str] | None = None) -> ir.Expr | None:
        """`s.<entry>` and `jnp.pi` as values; a `jnp.<function>` is only valid as a call (check_call)."""
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
        elif base.id == "s":
            return ir.StateEntry(attr, node.lineno)
        elif attr in JNP_CONSTANTS:
            return ir.JnpConstant(attr, node.lineno)
        else:
            self.error(node, f"jnp.{attr} is a function: call it, e.g. jnp.{attr}(x)")
        return None

    def check_call(self, node: ast.Call, local: set[str]) -> ir.Expr | None:
        func = node.func
        callee: tuple[Literal["jnp", "helper"], str] | None = None
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "jnp":
            errors_before = len(self.errors)
            if func.attr.startswith("_") or func.attr not in JNP_ALLOWED:
                self.check_attribute(func)
            elif func.attr in JNP_CONSTANTS:
                self.error(node, f"jnp.{func.attr} is a constant, not a function")
            if len(self.errors) == errors_before:
                callee = ("jnp", func.attr)
        elif isinstance(func, ast.Name) and func.id in HELPER_NAMES:
            callee = ("helper", func.id)
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
        args = [self.check_expr(arg, local) for arg in node.args]
        if callee is None or node.keywords or not _all_checked(args):
            return None
        return ir.Call(callee[0], callee[1], tuple(args), node.lineno)

    def check_index(self, node: ast.expr) -> tuple[int | ir.Slice, ...] | None:
        parts = node.elts if isinstance(node, ast.Tuple) else [node]
        checked: list[int | ir.Slice] = []
        ok = True
        for part in parts:
            if isinstance(part, ast.Slice):
                bounds: list[int | None] = []
                for bound in (part.lower, part.upper, part.step):
                    if bound is None:
                        bounds.append(None)
                    elif _is_int(bound):
                        bounds.append(_int(bound))
                    else:
                        self.error(bound, "slice bounds must be integer literals, e.g. x[0:3]")
                        ok = False
                if len(bounds) == 3:
                    checked.append(ir.Slice(bounds[0], bounds[1], bounds[2]))
            elif _is_int(part):
                checked.append(_int(part))
            else:
                self.error(part, "indexes must be integer literals or literal slices, e.g. x[0], x[:, 2]")
                ok = False
        return tuple(checked) if ok else None

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


def _all_checked(items: Sequence[object | None]) -> TypeGuard[Sequence[Any]]:
    return all(item is not None for item in items)


def _int(node: ast.expr) -> int:
    value = _number(node)
    assert value is not None
    return int(value)


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


def _targets_weights(stmt: ast.Assign, table: str = "WEIGHTS") -> bool:
    return any(isinstance(t, ast.Name) and t.id == table for t in stmt.targets)


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


@overload
def check_program(
    source: str,
    vocabulary: set[str],
    shapes: Mapping[str, Sequence[int]] | None = None,
    kind: Literal["reward"] = "reward",
) -> tuple[ValidationReport, ir.Program | None]: ...
@overload
def check_program(
    source: str, vocabulary: set[str], shapes: Mapping[str, Sequence[int]] | None, kind: Literal["check"]
) -> tuple[ValidationReport, ir.CheckProgram | None]: ...
def check_program(
    source: str,
    vocabulary: set[str],
    shapes: Mapping[str, Sequence[int]] | None = None,
    kind: ProgramKind = "reward",
) -> tuple[ValidationReport, ir.Program | ir.CheckProgram | None]:
    """Check `source` against docs/REWARDS.md for a scene whose vocabulary names are `vocabulary`;
    with `shapes` (name -> shape), literal indexes are checked against them too. `kind="check"` checks a
    success check instead (check_check, with the episode length unknown).

    Returns the report (every error found, up to MAX_ERRORS, in source order, and the terms with their
    weights and source; `terms` is empty only when the program could not be parsed) and, when the
    report is ok, the checked tree: the only form in which the program ever runs.
    """
    if kind == "check":
        return check_check(source, vocabulary, shapes)
    tree = parse_program(source)
    if isinstance(tree, ValidationReport):
        return tree, None
    depth_error = _depth_error(tree)
    if depth_error is not None:
        return ValidationReport(ok=False, errors=[depth_error], terms=[]), None
    checker = _Checker(source, vocabulary, shapes or {})
    terms, program = checker.check_module(tree)
    errors = sorted(checker.errors, key=lambda e: (e.line, e.column))[:MAX_ERRORS]
    if errors:
        return ValidationReport(ok=False, errors=errors, terms=terms), None
    if program is None:  # every accepted node has a checked form; a gap here is our bug, not the user's
        raise AssertionError("the static check accepted a program it could not represent")
    return ValidationReport(ok=True, errors=[], terms=terms), program


ALIVE = "alive"  # a check's own entry: 1 while the episode runs, 0 after the scene ended it
UNKNOWN_STEPS = 10**6  # the time axis when the episode length is not known (only later axes are checked)


def check_check(
    source: str,
    vocabulary: set[str],
    shapes: Mapping[str, Sequence[int]] | None = None,
    steps: int | None = None,
) -> tuple[ValidationReport, ir.CheckProgram | None]:
    """Check a success-check program (docs/CHECKS.md). `vocabulary` and `shapes` are the scene's per-step
    entries; a check reads each over the episode, so its shapes gain a leading time axis of `steps`.

    Returns the report (`figures` lists each figure with its requirement) and, when ok, the checked tree.
    """
    tree = parse_program(source)
    if isinstance(tree, ValidationReport):
        return tree, None
    depth_error = _depth_error(tree)
    if depth_error is not None:
        return ValidationReport(ok=False, errors=[depth_error], terms=[]), None
    length = steps or UNKNOWN_STEPS
    over_time = {name: [length, *shape] for name, shape in (shapes or {}).items()} | {ALIVE: [length]}
    checker = _Checker(source, set(vocabulary) | {ALIVE}, over_time, kind="check")
    figures, program = checker.check_check_module(tree)
    errors = sorted(checker.errors, key=lambda e: (e.line, e.column))[:MAX_ERRORS]
    if errors:
        return ValidationReport(ok=False, errors=errors, terms=[], figures=figures), None
    if program is None:
        raise AssertionError("the static check accepted a check it could not represent")
    return ValidationReport(ok=True, errors=[], terms=[], figures=figures), program


def static_check(
    source: str,
    vocabulary: set[str],
    shapes: Mapping[str, Sequence[int]] | None = None,
    kind: ProgramKind = "reward",
) -> ValidationReport:
    """check_program's report alone, for callers that only need to know whether it is valid."""
    if kind == "check":
        return check_check(source, vocabulary, shapes)[0]
    return check_program(source, vocabulary, shapes)[0]
