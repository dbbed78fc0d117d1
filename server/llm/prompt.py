"""What the model is told (system prompt, repair request, reflection) and how its programs are read
from a reply.

The system prompt is docs/REWARDS.md and docs/CHECKS.md condensed to what a model needs to write a valid
reward program and success check, plus the scene's vocabulary. It stays a few KB: large scenes list their
generated per-part entries by name only. A reply holds two code blocks: the reward (defines WEIGHTS) and
the check (defines AT_LEAST and/or AT_MOST).
"""

from __future__ import annotations

import math
import re

from server.checks.types import FigureResult, Reflection
from server.commands.types import MAX_SEGMENT_S, MAX_SEGMENTS, CommandSpec
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

# Keep in step with docs/CHECKS.md. The example is the one from that page.
_CHECK_RULES = """\
With every reward you also write a success check: a program in the same language that says whether the \
behaviour happened, judged on the robot's physical motion over a whole evaluation episode (never on reward \
terms: a reward can be high while the behaviour is wrong). It differs from a reward program in this:
- The module holds: an optional docstring, `AT_LEAST = dict(figure=number, ...)` and/or \
`AT_MOST = dict(...)` (at least one requirement in total; a figure may be in both, a range), and one plain \
function per figure, `def <name>(s):`. A figure in neither is reported but does not decide the verdict.
- Here s.<entry> holds the whole episode, shape [T, *shape], one row per control step: \
jnp.mean(s.x < 1) is the share of steps, s.x[-1] the last step, jnp.max(jnp.abs(s.x)) the largest excursion. \
s.alive [T] is 1 while the episode runs and 0 after the scene ended it (a fall): never fell is \
jnp.min(s.alive).
- Each figure returns one finite number and reads s. The check passes when every requirement holds in \
every episode; one that passes while the robot does nothing, or while it flails, is refused. Require what \
the task asks, with thresholds a good policy meets.

A complete example (cartpole, task "keep the pole upright"):
```python
\"\"\"Check: keep the pole upright with the cart away from the rail ends.\"\"\"

AT_LEAST = dict(upright=0.95)
AT_MOST = dict(cart_travel=1.5)


def upright(s):
    \"\"\"Share of steps with the pole within 18 degrees of upright.\"\"\"
    return jnp.mean(jnp.abs(s.pole_angle) < 0.31)


def cart_travel(s):
    \"\"\"Furthest the cart got from the centre (m).\"\"\"
    return jnp.max(jnp.abs(s.cart_position))
```"""

_ANSWER_FORMAT = """\
Answer with exactly two ```python code blocks and nothing else: first the complete reward program \
(defines WEIGHTS), then the complete check program (defines AT_LEAST and/or AT_MOST)."""

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
    return f"{_RULES}\n\n{_CHECK_RULES}\n\n{_vocabulary_section(vocabulary)}\n\n{_ANSWER_FORMAT}"


def task_message(task: str) -> str:
    return f"Task: {task.strip()}\n\n{_ANSWER_FORMAT}"


def _problems(report: ValidationReport) -> str:
    problems = []
    for error in report.errors:
        where = f"line {error.line}" if error.line > 0 else "program"
        if error.line > 0 and error.column > 0:
            where += f", column {error.column}"
        problems.append(f"- {where} ({error.stage}): {error.message}")
    return "\n".join(problems) or "- the program was rejected without details"


def repair_message(report: ValidationReport | None, check_report: ValidationReport | None = None) -> str:
    """Asks for corrected programs, quoting each validator error with its line number. A report is given
    for each program that failed (None: that one was accepted); line numbers count within its block."""
    parts = []
    if report is not None:
        parts.append(f"The validator rejected the reward program:\n{_problems(report)}")
    else:
        parts.append("The reward program was accepted; send it again unchanged.")
    if check_report is not None:
        parts.append(f"The validator rejected the check program:\n{_problems(check_report)}")
    elif report is not None:
        parts.append("The check program was accepted; send it again unchanged.")
    return "\n\n".join(parts) + (
        "\n\nFix every problem and send both corrected complete programs (not a diff). " + _ANSWER_FORMAT
    )


def _number(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else str(x)


def _requirement(figure: FigureResult) -> str:
    bounds = []
    if figure.at_least is not None:
        bounds.append(f">= {_number(figure.at_least)}")
    if figure.at_most is not None:
        bounds.append(f"<= {_number(figure.at_most)}")
    return " and ".join(bounds)


def curve_shape(rewards: list[float]) -> str:
    """The eval-reward curve in words: rising, flat, levelled off, or rose then collapsed."""
    values = [r for r in rewards if math.isfinite(r)]
    if len(values) < 2:
        return "too short to tell"
    low, high, last = min(values), max(values), values[-1]
    spread = high - low
    if spread <= 0.05 * max(abs(high), 1.0):
        return f"flat (about {_number(high)}): the reward gave the policy nothing to climb"
    peak = values.index(high) + 1
    if last < high - 0.3 * spread:
        return (
            f"rose then collapsed: peak {_number(high)} at evaluation {peak} of {len(values)}, "
            f"last {_number(last)}"
        )
    if peak == len(values):
        return f"still rising at the end (last {_number(last)})"
    return f"levelled off at about {_number(last)} (best {_number(high)} at evaluation {peak})"


def reflection_message(reflection: Reflection) -> str:
    """Eureka-style feedback on a trained reward that failed its check: what the evaluation saw (term
    statistics, the check's figures, the curve's shape), then a request for an improved reward."""
    result = reflection.result
    terms = [
        f"- {t.name} (weight {_number(t.weight)}): mean {_number(t.mean)}, spread (std) {_number(t.std)}"
        for t in reflection.terms
    ] or ["- (no term statistics were recorded)"]
    figures = []
    for figure in result.figures:
        required = _requirement(figure)
        line = f"- {figure.name}: mean {_number(figure.mean)}, worst episode {_number(figure.worst)}"
        if required:
            held = f"held in {figure.met}/{result.episodes} episodes"
            verdict = "" if figure.met >= result.episodes else " <- FAILED"
            line += f"; required {required}, {held}{verdict}"
        else:
            line += " (reported, not required)"
        figures.append(line)
    if result.error:
        figures.append(f"- the check could not be computed: {result.error}")
    curve = ", ".join(_number(r) for r in reflection.eval_rewards) or "none"
    scores = ", ".join(f"{s:.2f}" for s in reflection.check_scores) or "none"
    return f"""\
Task: {reflection.task_description.strip()}

This reward program was trained with PPO for {reflection.total_steps} environment steps; the best policy \
(kept at step {reflection.kept_step}) failed its success check.
```python
{reflection.program.rstrip()}
```

Each reward term's per-episode sum over the evaluation episodes of the kept policy:
{chr(10).join(terms)}

The success check:
```python
{reflection.check.rstrip()}
```
Its verdict: {result.summary}
{chr(10).join(figures)}

Eval reward at each evaluation: {curve}
Shape of the curve: {curve_shape(reflection.eval_rewards)}
Check score (share of requirements met) at each evaluation: {scores}

Analyse the feedback, then write an improved reward program that makes the failing requirement hold:
(1) If the check's figures are far from their requirements, pay directly for the physical condition the \
failing figure measures, or rewrite the reward.
(2) If a term's values barely vary, RL cannot optimise it as written: change its scale or temperature \
(sigma, margin), rewrite it, or drop it.
(3) If one term's magnitude dwarfs the others, rescale it; a penalty that outweighs the task teaches the \
robot to do nothing or to end the episode.
(4) If the curve rose then collapsed, prefer bounded terms (tolerance, exp_kernel) and smaller penalties.
Keep the check as it is unless it is itself wrong (then fix it and say why in one sentence).
{_ANSWER_FORMAT} You may write a few sentences of analysis before the two blocks."""


_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_THINKING = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


_DEFINES_WEIGHTS = re.compile(r"^WEIGHTS\s*=", re.MULTILINE)
_DEFINES_REQUIREMENTS = re.compile(r"^(?:AT_LEAST|AT_MOST)\s*=", re.MULTILINE)


def _code_blocks(reply: str) -> tuple[str, list[str]]:
    """(the reply without reasoning, its python code blocks, or all its code blocks if none is python)."""
    # Reasoning models served by Ollama (deepseek-r1, qwen3) may put draft code inside <think>.
    text = _THINKING.sub("", reply).strip()
    blocks = [(str(lang).lower(), str(body)) for lang, body in _FENCE.findall(text)]
    python = [body for lang, body in blocks if lang in ("python", "py", "python3", "")]
    return text, python or [body for _, body in blocks]


def extract_program(reply: str) -> str:
    """The reward program in a model's reply: its python code block (the one defining WEIGHTS if
    several, never the check's), else the reply itself as raw code. Chatter around it is ignored."""
    text, candidates = _code_blocks(reply)
    if candidates:
        with_weights = [body for body in candidates if _DEFINES_WEIGHTS.search(body)]
        not_checks = [body for body in candidates if not _DEFINES_REQUIREMENTS.search(body)]
        loose = [body for body in not_checks if "WEIGHTS" in body]  # e.g. an indented, invalid one
        chosen = (with_weights or loose or not_checks or candidates)[-1]  # the last is the final version
        return chosen.strip() + "\n"
    if _DEFINES_REQUIREMENTS.search(text) and not _DEFINES_WEIGHTS.search(text):
        return ""  # raw code that is only a check: there is no reward in this reply
    return _strip_chatter(text)


def extract_check(reply: str) -> str:
    """The check program in a model's reply: the last code block defining AT_LEAST or AT_MOST (and not
    WEIGHTS), else raw code that is only a check; "" when the reply holds none."""
    text, candidates = _code_blocks(reply)
    checks = [
        body
        for body in candidates
        if _DEFINES_REQUIREMENTS.search(body) and not _DEFINES_WEIGHTS.search(body)
    ]
    if checks:
        return checks[-1].strip() + "\n"
    if not candidates and _DEFINES_REQUIREMENTS.search(text) and not _DEFINES_WEIGHTS.search(text):
        return _strip_chatter(text)
    return ""


_CODE_START = re.compile(r'^(?:"""|WEIGHTS\s*=|AT_LEAST\s*=|AT_MOST\s*=|def\s|#)')
_CODE_LINE = re.compile(r'^(?:\s+\S|"""|WEIGHTS\s*=|AT_LEAST\s*=|AT_MOST\s*=|def\s|#|\S.*"""$)')


def _strip_chatter(text: str) -> str:
    """Raw code with a sentence before or after it: keep from the first to the last line of code."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _CODE_START.match(line)]
    if not starts:
        return text + "\n" if text else ""
    ends = [i for i, line in enumerate(lines) if i >= starts[0] and _CODE_LINE.match(line)]
    return "\n".join(lines[starts[0] : max(ends) + 1]).strip() + "\n"


# ----- the command tier: a sentence -> a command schedule (docs/COMMANDS.md) ------------------------

_SCHEDULE_RULES = """\
You turn a sentence into a command schedule for a legged robot that already walks: a trained policy \
follows a velocity command, and the schedule says which command to hold for how long, in order. Answer \
with one ```json code block holding the schedule and nothing else:
{"segments": [{"duration_s": <seconds, > 0, at most %(max_s)s>, "command": {<key>: <number>, ...}, \
"label": "<the words of the sentence this segment does>"}, ...], "repeat": <true to loop, else false>}
Up to %(max_n)s segments. A key left out of a command is 0. After the last segment its command is held \
(so end with a stop, all keys 0, when the sentence ends with stopping).
Positive forward is ahead, positive sideways is to the robot's left, positive turn is to the left \
(counterclockwise). Speed words: slowly is about 30%% of the limit, normally about 60%%, fast 100%%. \
A step takes about 0.5 s. Turning by an angle lasts angle / turn rate (90 degrees at 0.72 rad/s: 2.18 s).
If the sentence asks for something a velocity command cannot do (jump, sit, flip, lift a leg...), answer \
with exactly: null"""


def schedule_system_prompt(spec: CommandSpec) -> str:
    keys = (
        spec.keys if len(spec.keys) == len(spec.low) else [f"command_{i + 1}" for i in range(len(spec.low))]
    )
    lines = ["This robot's command keys (unit; allowed range; meaning):"]
    for i, key in enumerate(keys):
        unit = spec.units[i] if i < len(spec.units) and spec.units[i] else "no unit"
        name = spec.names[i] if i < len(spec.names) else key
        lines.append(f"- {key} ({unit}; {_number(spec.low[i])} to {_number(spec.high[i])}): {name}")
    example = _SCHEDULE_EXAMPLE if {"forward", "turn"} <= set(keys) else ""
    rules = _SCHEDULE_RULES % {"max_s": _number(MAX_SEGMENT_S), "max_n": MAX_SEGMENTS}
    return "\n".join([rules, "", *lines, example])


_SCHEDULE_EXAMPLE = """
Example: "walk forward two steps slowly, then turn right" (forward up to 1.5 m/s, turn up to 1.2 rad/s):
```json
{"segments": [{"duration_s": 1.0, "command": {"forward": 0.45}, "label": "walk forward two steps slowly"}, \
{"duration_s": 2.0, "command": {"turn": -0.72}, "label": "turn right"}], "repeat": false}
```"""


def schedule_message(sentence: str) -> str:
    return f"Sentence: {sentence.strip()}\n\nAnswer with the ```json schedule, or null."


def schedule_repair_message(errors: list[str]) -> str:
    problems = "\n".join(f"- {error}" for error in errors)
    return f"That schedule cannot be used:\n{problems}\nAnswer with the corrected ```json schedule, or null."


def extract_schedule(reply: str) -> str | None:
    """The schedule JSON in a model's reply (its last code block, else the reply from its first `{` to
    its last `}`), or None when the model answered null (not a motion command)."""
    text = _THINKING.sub("", reply).strip()
    blocks = [str(body).strip() for _lang, body in _FENCE.findall(text)]
    if blocks:
        text = blocks[-1]
    if text.strip("` \n").lower() in ("null", "none"):
        return None
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if 0 <= start < end else text
