"""Hostile and broken reward programs, each with a fragment its first error message must contain.

STATIC cases must be rejected by `static_check` alone (they never reach the worker); TRACE cases pass
the static check and must be rejected by the worker's trace check on CartpoleBalance.
"""

from __future__ import annotations


def wrap(body: str, weights: str = "t=1.0") -> str:
    """A one-term program with `body` as the term's body (already indented)."""
    return f"WEIGHTS = dict({weights})\n\ndef t(s):\n{body}\n"


DEEP = "jnp.abs(" * 60 + "s.qpos[0]" + ")" * 60
LONG_SUM = " + ".join(["s.qpos[0]"] * 60)

STATIC: list[tuple[str, str, str]] = [
    ("import", "import os\n" + wrap("    return 1.0"), "imports are not allowed"),
    ("from_import", "from os import system\n" + wrap("    return 1.0"), "imports are not allowed"),
    ("dunder_import", wrap("    return __import__('os')"), "starting with `_`"),
    ("dunder_import_plain", wrap("    x = __import__\n    return 1.0"), "starting with `_`"),
    ("class_walk", wrap("    return ().__class__.__bases__"), "attributes starting with `_`"),
    ("jnp_dunder", wrap("    return jnp.__dict__"), "attributes starting with `_`"),
    ("jnp_save", wrap("    jnp.save(1.0, s.qpos)\n    return 1.0"), "`jnp.save` is not allowed"),
    ("jnp_load", wrap("    return jnp.load(1.0)"), "`jnp.load` is not allowed"),
    ("jnp_fromfile", wrap("    return jnp.fromfile(1.0)"), "`jnp.fromfile` is not allowed"),
    ("jnp_linalg_chain", wrap("    return jnp.linalg.norm(s.qpos)"), "`jnp.linalg` is not allowed"),
    ("open", wrap("    return open(1.0)"), "`open(...)` is not an allowed function"),
    ("eval", wrap("    return eval(1.0)"), "`eval(...)` is not an allowed function"),
    ("exec", wrap("    return exec(1.0)"), "`exec(...)` is not an allowed function"),
    ("getattr", wrap("    return getattr(s, 1.0)"), "`getattr(...)` is not an allowed function"),
    ("while", wrap("    while 1:\n        pass\n    return 1.0"), "`while` loops are not allowed"),
    (
        "for",
        wrap("    x = 0.0\n    for i in s.qpos:\n        x = x + i\n    return x"),
        "loops are not allowed",
    ),
    (
        "listcomp",
        wrap("    return jnp.sum(jnp.array([x for x in s.qpos]))"),
        "comprehensions are not allowed",
    ),
    ("genexp", wrap("    return jnp.sum(x for x in s.qpos)"), "generator expressions are not allowed"),
    ("lambda", wrap("    f = lambda x: x\n    return 1.0"), "`lambda` is not allowed"),
    (
        "recursion",
        "WEIGHTS = dict(a=1.0, b=1.0)\ndef a(s):\n    return b(s)\ndef b(s):\n    return a(s)\n",
        "terms cannot call other terms",
    ),
    ("string", wrap("    x = 'hello'\n    return 1.0"), "string literals are only allowed as docstrings"),
    ("fstring", wrap("    x = f'{s.qpos}'\n    return 1.0"), "f-strings are not allowed"),
    ("huge_constant", wrap("    return 1e300 * s.qpos[0]"), "at most 1e+06"),
    ("tower_power", wrap("    return 9**9**9"), "`**` needs a literal exponent"),
    ("power_variable", wrap("    return s.qpos[0] ** s.qpos[1]"), "`**` needs a literal exponent"),
    ("deep_nesting", wrap(f"    return {DEEP}"), "nested"),
    ("long_chain", wrap(f"    return {LONG_SUM}"), "nested more than 40 levels"),
    ("giant_source", wrap("    return 1.0") + "#" * 21_000, "the limit is 20000"),
    ("null_byte", wrap("    return 1.0\x00"), "null byte"),
    ("syntax", wrap("    return (1.0"), "syntax error"),
    ("array_dunder", wrap("    return s.qpos.__array__()"), "attributes starting with `_`"),
    ("attr_on_value", wrap("    return s.qpos.sum()"), "attribute access is only allowed on s and jnp"),
    (
        "attr_on_local",
        wrap("    x = s.qpos\n    return x.T"),
        "attribute access is only allowed on s and jnp",
    ),
    ("keyword_args", wrap("    return jnp.sum(s.qpos, axis=0)"), "keyword arguments are not allowed"),
    (
        "missing_weight",
        "WEIGHTS = dict(a=1.0)\ndef a(s):\n    return 1.0\ndef b(s):\n    return 1.0\n",
        "term `b` has no weight",
    ),
    ("extra_weight", wrap("    return 1.0", "t=1.0, ghost=2.0"), "no term function `def ghost(s):`"),
    ("no_weights", "def t(s):\n    return 1.0\n", "missing `WEIGHTS"),
    ("weight_expression", wrap("    return 1.0", "t=1.0 + 2.0"), "must be a number literal"),
    ("weight_name", wrap("    return 1.0", "t=x"), "must be a number literal"),
    ("two_params", "WEIGHTS = dict(t=1.0)\ndef t(s, x):\n    return 1.0\n", "exactly one parameter named s"),
    (
        "default_param",
        "WEIGHTS = dict(t=1.0)\ndef t(s=1):\n    return 1.0\n",
        "exactly one parameter named s",
    ),
    (
        "decorator",
        "WEIGHTS = dict(t=1.0)\n@jnp.vectorize\ndef t(s):\n    return 1.0\n",
        "decorators are not allowed",
    ),
    ("if_traced", wrap("    if s.qpos[0] > 0:\n        return 1.0\n    return 0.0"), "`if` is not allowed"),
    ("ifexp", wrap("    return 1.0 if s.qpos[0] > 0 else 0.0"), "use jnp.where"),
    ("unknown_vocab", wrap("    return s.pole_angel"), "closest: s.pole_angle"),
    ("unknown_helper", wrap("    return smooth(s.qpos[0])"), "not an allowed function"),
    ("no_return", wrap("    x = 1.0"), "must end with `return"),
    ("global", wrap("    global WEIGHTS\n    return 1.0"), "`global` is not allowed"),
    (
        "try",
        wrap("    try:\n        x = 1.0\n    except:\n        x = 0.0\n    return x"),
        "`try` is not allowed",
    ),
    ("with", wrap("    with s:\n        x = 1.0\n    return x"), "`with` is not allowed"),
    ("walrus", wrap("    return (x := 1.0)"), "`:=` is not allowed"),
    ("class", "class A:\n    pass\n" + wrap("    return 1.0"), "classes are not allowed"),
    ("dict_display", wrap("    x = {1: 2}\n    return 1.0"), "dict displays are not allowed"),
    ("variable_index", wrap("    i = 0\n    return s.qpos[i]"), "integer literals"),
    ("bare_s", wrap("    return norm(s)"), "use s only as"),
    (
        "too_many_terms",
        "WEIGHTS = dict("
        + ", ".join(f"t{i}=1.0" for i in range(17))
        + ")\n"
        + "".join(f"def t{i}(s):\n    return 1.0\n" for i in range(17)),
        "too many terms",
    ),
    ("top_level_code", wrap("    return 1.0") + "x = 1\n", "the only top-level assignment"),
    ("async", "WEIGHTS = dict(t=1.0)\nasync def t(s):\n    return 1.0\n", "`async def` is not allowed"),
    ("starred", wrap("    return jnp.maximum(*s.qpos)"), "unpacking is not allowed"),
    ("matmul", wrap("    return s.qpos @ s.qpos"), "operator `MatMult` is not allowed"),
    ("private_local", wrap("    _x = 1.0\n    return _x"), "cannot start with `_`"),
    ("shadow_helper", wrap("    norm = 1.0\n    return norm"), "is reserved"),
    # Issue 9's escape: a second assignment target was never checked, and exec ran it.
    (
        "chained_weights_target",
        'WEIGHTS = jnp.__dict__[__import__("numpy").save("pwned", 1)] = dict(t=1.0)\n'
        + "def t(s):\n    return jnp.cos(s.pole_angle)\n",
        "assign WEIGHTS on its own",
    ),
    ("chained_weights_name", "WEIGHTS = x = dict(t=1.0)\ndef t(s):\n    return 1.0\n", "on its own"),
    (
        "weights_tuple_target",
        "WEIGHTS, x = dict(t=1.0), 1\ndef t(s):\n    return 1.0\n",
        "the only top-level assignment",
    ),
    ("chained_local_target", wrap("    x = y = s.qpos[0]\n    return x"), "one plain name at a time"),
    ("subscript_target", wrap("    x = s.qpos\n    x[0] = 1.0\n    return x[0]"), "one plain name"),
    ("function_globals", wrap("    return jnp.sin.__globals__"), "attributes starting with `_`"),
    ("function_as_value", wrap("    f = jnp.sum\n    return 1.0"), "jnp.sum is a function: call it"),
    ("method_self", wrap("    return jnp.array.__self__"), "attributes starting with `_`"),
    ("module_via_helper", wrap("    return norm.__module__"), "attributes starting with `_`"),
    ("builtins_via_call", wrap("    return jnp.sum(1.0).__class__"), "attributes starting with `_`"),
    ("weights_default", "WEIGHTS = dict(t=1.0)\ndef t(s=__import__('os')):\n    return 1.0\n", "parameter"),
    ("annotation", "WEIGHTS = dict(t=1.0)\ndef t(s: __import__('os')):\n    return 1.0\n", "annotations"),
    (
        "return_annotation",
        "WEIGHTS = dict(t=1.0)\ndef t(s) -> __import__('os'):\n    return 1.0\n",
        "annotations are not allowed",
    ),
    ("decorator_import", "WEIGHTS = dict(t=1.0)\n@__import__\ndef t(s):\n    return 1.0\n", "decorators"),
    ("power_assign", wrap("    x = 10.0\n    x **= 4\n    return x"), "`**=` is not allowed"),
    ("bare_return", wrap("    return\n    return 1.0"), "a bare `return` is not allowed"),
    ("bool_literal", wrap("    return True"), "`True` is not allowed"),
]

TRACE: list[tuple[str, str, str]] = [
    ("vector_term", wrap("    return s.qpos"), "must return a scalar but returns shape [2]"),
    ("nan_log", wrap("    return jnp.log(-1.0 + 0.0 * s.cart_position)"), "is NaN"),
    ("zero_over_zero", wrap("    x = s.time * 0.0\n    return x / x"), "is NaN"),
    ("inf", wrap("    return 1.0 / (s.time * 0.0)"), "is infinite"),
    ("dot_mismatch", wrap("    return jnp.dot(s.qpos, jnp.array([1.0, 2.0, 3.0]))"), "failed to trace"),
    ("shape_mismatch", wrap("    return jnp.sum(s.qpos + jnp.array([1.0, 2.0, 3.0]))"), "failed to trace"),
    ("bool_op_vector", wrap("    return jnp.where(s.qpos > 0.0, 1.0, 0.0)"), "must return a scalar"),
    # Unbounded Python integers are gone: past 1e6 they continue as floats, which overflow at once
    # (this took the whole 240 s timeout as growing integers).
    (
        "integer_tower",
        wrap("    x = ((1000000 ** 4) ** 4) ** 4\n    return x * s.cart_position"),
        "OverflowError",
    ),
    # Cheap to validate, ruinous to train: refused by size, then by XLA's cost estimate.
    (
        "huge_outer_product",
        wrap("    x = jnp.linspace(0.0, 1.0, 10000)\n    return jnp.sum(jnp.outer(x, x)) * s.cart_position"),
        "builds an array of 100,000,000 numbers",
    ),
    (
        "expensive_matmul",
        wrap(
            "    x = jnp.outer(jnp.linspace(0.0, 1.0, 1000), jnp.linspace(0.0, 1.0, 1000))\n"
            "    return jnp.sum(jnp.dot(x, x)) * s.cart_position"
        ),
        "the scene's own physics step",
    ),
    ("list_repeat", wrap("    x = [1.0] * 1000000\n    return jnp.sum(jnp.array(x))"), "on a list or tuple"),
]
