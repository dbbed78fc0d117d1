"""What the model is told (system prompt, repair request) and how its program is read from a reply.

The system prompt is docs/REWARDS.md condensed to what a model needs to write a valid program, plus
the scene's vocabulary. It stays a few KB: large scenes list their generated per-part entries by name only.
"""

from __future__ import annotations

import re

from server.rewards.types import ValidationReport, Vocabulary, VocabularyEntry

# Keep in step with docs/REWARDS.md ("Rules"). The example is the one from that page.
_RULES = """\
You write reward programs for training a simulated robot with reinforcement learning (MuJoCo Playground, \
PPO). A reward program is a small, restricted subset of Python over jax.numpy that defines named reward \
terms and their weights; the reward per control step is the weighted sum of the terms.

Rules (a validator checks them; a program that breaks one is rejected):
- The module holds: an optional docstring, exactly one `WEIGHTS = dict(name=number, ...)` assignment, and \
one plain function per term, `def <name>(s):` with that one parameter, no defaults, decorators or \
annotations. Every key of WEIGHTS names a term function and every term function has a weight.
- Weights are numeric literals (a leading minus is allowed). A negative weight makes the term a penalty: \
penalty terms return a positive cost.
- Inside a term: assignments to plain names, `return`, arithmetic (+ - * / ** % and unary minus), \
comparisons, and/or/not on comparisons, calls of allowed names only, indexing with integer literals or \
literal slices. No `if`, no conditional expressions: use jnp.where.
- A term may read only: s.<vocabulary entry> (listed below), jnp.<allowed function>, the helpers, its own \
local variables, and numeric literals.
- Not allowed anywhere: imports, loops, while, lambda, comprehensions, with, try, global, classes, \
string literals other than docstrings, f-strings, names starting with _, attribute access on anything \
but s and jnp, keyword arguments except in WEIGHTS, numeric literals above 1e6 in absolute value, ** with \
an exponent that is not a literal between -4 and 4, more than 16 terms.
- Each term must return a finite float scalar (reduce vectors with jnp.sum, jnp.mean or norm).

Helpers:
- tolerance(x, lower, upper, margin): 1 inside [lower, upper], falling smoothly to 0.1 at margin outside.
- exp_kernel(error, sigma): exp(-sum(error^2) / sigma).
- clip(x, lower, upper): jnp.clip.
- norm(x): Euclidean norm of a vector.

A complete example (for a legged robot, task "walk backwards at about 0.5 m/s"):
```python
\"\"\"Walk backwards at about 0.5 m/s and stay upright.\"\"\"

WEIGHTS = dict(backward_speed=1.0, upright=0.5, effort=-0.001)


def backward_speed(s):
    \"\"\"Reward moving along -x of the body frame at 0.5 m/s.\"\"\"
    return exp_kernel(s.base_lin_vel[0] + 0.5, 0.25)


def upright(s):
    return tolerance(s.up_vector[2], 0.9, 1.0, 0.5)


def effort(s):
    return jnp.sum(jnp.square(s.action))
```
Good programs reward the asked behaviour directly, keep the robot stable (upright, height) when that \
matters, and add small penalties (effort, action changes) so the motion stays smooth."""

_ANSWER_FORMAT = """\
Answer with exactly one ```python code block holding the complete program, and nothing else."""

_GENERATED_PREFIXES = ("body_", "site_", "joint_", "sensor_")
_DETAILED_GENERATED_LIMIT = 40  # beyond this many per-part entries, list names only (G1 has hundreds)


def _shape(entry: VocabularyEntry) -> str:
    return "scalar" if not entry.shape else "[" + ", ".join(str(n) for n in entry.shape) + "]"


def _vocabulary_section(vocabulary: Vocabulary) -> str:
    curated = [e for e in vocabulary.entries if not e.name.startswith(_GENERATED_PREFIXES)]
    generated = [e for e in vocabulary.entries if e.name.startswith(_GENERATED_PREFIXES)]
    lines = [f"Vocabulary of scene {vocabulary.scene_id} (read as s.<name>; shape; meaning):"]
    lines += [f"- s.{e.name} {_shape(e)}: {e.description}" for e in curated]
    if generated:
        lines.append("Named parts of the model:")
        if len(generated) <= _DETAILED_GENERATED_LIMIT:
            lines += [f"- s.{e.name} {_shape(e)}: {e.description}" for e in generated]
        else:
            # Grouped by shape, names only: the names say what they are (body_<name>_pos is a position).
            by_shape: dict[str, list[str]] = {}
            for entry in generated:
                by_shape.setdefault(_shape(entry), []).append(entry.name)
            lines += [f"- {shape}: {', '.join(names)}" for shape, names in by_shape.items()]
    if vocabulary.helpers:
        lines.append("Helpers available in this scene:")
        lines += [f"- {h.name}: {h.description}" for h in vocabulary.helpers]
    lines.append("Allowed jnp functions: " + ", ".join(vocabulary.jnp_functions))
    return "\n".join(lines)


def system_prompt(vocabulary: Vocabulary) -> str:
    return f"{_RULES}\n\n{_vocabulary_section(vocabulary)}\n\n{_ANSWER_FORMAT}"


def task_message(task: str) -> str:
    return f"Task: {task.strip()}\n\n{_ANSWER_FORMAT}"


def repair_message(report: ValidationReport) -> str:
    """Asks for a corrected program, quoting each validator error with its line number."""
    problems = []
    for error in report.errors:
        where = f"line {error.line}" if error.line > 0 else "program"
        if error.line > 0 and error.column > 0:
            where += f", column {error.column}"
        problems.append(f"- {where} ({error.stage}): {error.message}")
    listed = "\n".join(problems) or "- the program was rejected without details"
    return (
        "The validator rejected that program:\n"
        f"{listed}\n\n"
        "Fix every problem and send the corrected complete program (not a diff). " + _ANSWER_FORMAT
    )


_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_THINKING = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


def extract_program(reply: str) -> str:
    """The program in a model's reply: its python code block (the one defining WEIGHTS if several),
    else the reply itself as raw code. Chatter around the block is ignored."""
    # Reasoning models served by Ollama (deepseek-r1, qwen3) may put draft code inside <think>.
    text = _THINKING.sub("", reply).strip()
    blocks = [(str(lang).lower(), str(body)) for lang, body in _FENCE.findall(text)]
    if blocks:
        python = [body for lang, body in blocks if lang in ("python", "py", "python3", "")]
        candidates = python or [body for _, body in blocks]
        with_weights = [body for body in candidates if "WEIGHTS" in body]
        chosen = (with_weights or candidates)[-1]  # the last one is the model's final version
        return chosen.strip() + "\n"
    return _strip_chatter(text)


_CODE_START = re.compile(r'^(?:"""|WEIGHTS\s*=|def\s|#)')
_CODE_LINE = re.compile(r'^(?:\s+\S|"""|WEIGHTS\s*=|def\s|#|\S.*"""$)')


def _strip_chatter(text: str) -> str:
    """Raw code with a sentence before or after it: keep from the first to the last line of code."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _CODE_START.match(line)]
    if not starts:
        return text + "\n" if text else ""
    ends = [i for i, line in enumerate(lines) if i >= starts[0] and _CODE_LINE.match(line)]
    return "\n".join(lines[starts[0] : max(ends) + 1]).strip() + "\n"
