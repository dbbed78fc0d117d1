"""The trace worker: a long-lived child process that loads scenes and runs reward programs under JAX.

Started by checker.py as `python -m server.rewards.trace_worker <menagerie_dir>` with a scrubbed
environment. It reads request frames on stdin and writes replies on a private copy of stdout; fd 1
itself is pointed at stderr, so a stray print (from JAX, absl or Playground) cannot corrupt the protocol.
Loaded scenes are cached, so only the first program for a scene pays for loading and compiling it.
"""

from __future__ import annotations

import os
import resource
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from server.checks.types import CheckResult
from server.policies.manifest import PolicyManifest
from server.rewards.protocol import (
    EnvKeys,
    Evaluate,
    GetVocabulary,
    JudgeBase,
    Prepare,
    Probe,
    Reply,
    Request,
    Sleep,
    Validate,
    ValidateCheck,
    pack,
    read_frame,
)
from server.rewards.types import ProgramError, ValidationReport, Vocabulary
from server.sandbox.confine import Confinement, confine
from server.sandbox.environment import TEST_HOOKS_ENV
from server.scenes.loader import UnknownSceneError

# A reward's terms may cost this many times the scene's physics step (or MIN_TERM_FLOPS, for the tiny
# classic-control scenes) before the check refuses it: training runs them every step of every env.
MAX_COST_RATIO = 10.0
MIN_TERM_FLOPS = 1e6
MAX_ARRAY_ELEMENTS = 2**20  # any intermediate array; the largest vocabulary entry is far smaller
CPU_SECONDS_PER_REQUEST = 300  # soft RLIMIT_CPU is re-armed before each request (the limit is cumulative)
MIN_CACHED_COMPILE_S = 0.3  # compiles shorter than this are not written to the persistent cache
STEP_ACTION = 0.1  # the "one step" check applies this constant action, so action terms are not all zero


@dataclass
class Scene:
    entries: dict[str, Any]
    vocabulary: Vocabulary
    contexts: list[tuple[str, Any]]  # (label, RewardContext): the reset state and the state after a step
    step_flops: float | None  # XLA's estimate for one env.step (physics + the env's own reward)
    env: Any = None
    episode_length: int = 1000
    # Sample rollouts for checking a success check, by the entries recorded: (label, trajectories).
    # `prepare` records every small entry at once, so a new check reuses them instead of compiling.
    samples: dict[frozenset[str], list[tuple[str, Any]]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase of its preparation
    samples_file: Path | None = None  # where the recordable entries' sample rollouts are kept on disk
    # Rollouts of base policies, by (params sha256, entries recorded): a second check of the same base
    # (the user editing it, a reflection round) only evaluates its figures.
    base_rollouts: dict[tuple[str, frozenset[str]], Any] = field(default_factory=dict)


def arm_cpu_limit() -> None:
    """RLIMIT_CPU counts the process's whole life, so give each request a fresh budget on top of use."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = int(used.ru_utime + used.ru_stime) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = spent + CPU_SECONDS_PER_REQUEST
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


class Worker:
    def __init__(self, menagerie_dir: Path, samples_dir: Path | None = None) -> None:
        self.menagerie_dir = menagerie_dir
        self.samples_dir = samples_dir  # sample rollouts kept across launches (None: memory only)
        self.scenes: dict[str, Scene] = {}

    def playground(self) -> Any:
        from server.scenes.loader import playground

        return playground()

    def scene(self, scene_id: str) -> Scene:
        if scene_id in self.scenes:
            return self.scenes[scene_id]
        import jax
        import jax.numpy as jnp

        from server.rewards.context import RewardContext
        from server.rewards.vocabulary import build_entries, describe
        from server.scenes.loader import load_env

        # The "check" implementation is always "jax", even where training loads "warp";
        # server/scenes/loader.py (physics_impl) says why that checks the same program.
        clock = _Clock()
        loaded = load_env(scene_id, purpose="check", menagerie_dir=self.menagerie_dir)
        env = loaded.env
        clock.lap("load")
        state = jax.jit(env.reset)(jax.random.PRNGKey(0))
        zeros = jnp.zeros(env.action_size, jnp.float32)
        action = jnp.full(env.action_size, STEP_ACTION, jnp.float32)
        clock.lap("reset")
        step = jax.jit(env.step).lower(state, action).compile()
        stepped = step(state, action)
        clock.lap("step")
        contexts = [
            ("the reset state", RewardContext(state.data, zeros, zeros, dict(state.info))),
            ("the state after one step", RewardContext(stepped.data, action, zeros, dict(stepped.info))),
        ]
        entries = build_entries(scene_id, env)
        scene = Scene(
            entries=entries,
            vocabulary=describe(scene_id, entries, contexts[0][1]),
            contexts=contexts,
            step_flops=flops(step),
            env=env,
            episode_length=loaded.episode_length,
        )
        clock.lap("vocabulary")
        scene.timings = clock.laps
        if self.samples_dir is not None:
            try:
                scene.samples_file = self.samples_dir / f"{scene_id}-{samples_key(scene)}.npz"
            except Exception as exc:  # no key, no disk copy: the rollouts stay in memory
                print(f"sample rollouts kept in memory only: {exc}", file=sys.stderr)
        self.scenes[scene_id] = scene
        return scene

    def prepare(self, request: Prepare) -> dict[str, float]:
        """Everything a check of this scene needs that does not depend on the program: the scene and its
        states, and sample rollouts recording every recordable entry. Seconds per phase; a second call
        returns {} at once."""
        fresh = request.scene_id not in self.scenes
        scene = self.scene(request.scene_id)
        timings = dict(scene.timings) if fresh else {}
        if recordable(scene) not in scene.samples:
            clock = _Clock()
            sample_rollouts(scene, recordable(scene), clock)
            timings |= clock.laps
        if request.base is not None:
            from server.policies.manifest import decode_manifest

            clock, known = _Clock(), len(scene.base_rollouts)
            try:
                manifest = decode_manifest(request.base.manifest)
                base_rollouts(scene, manifest, request.base.params, frozenset())
                if len(scene.base_rollouts) > known:  # else they were there already: no phase to report
                    clock.lap("base rollouts")
                    timings |= clock.laps
            except Exception as exc:  # a draft still needs the rest; its JudgeBase reports the reason
                print(f"the base's rollouts were not prepared: {exc}", file=sys.stderr)
        return timings

    def validate(self, request: Validate) -> ValidationReport:
        from server.rewards.compile import from_checked
        from server.rewards.static_check import check_program

        scene = self.scene(request.scene_id)
        report, program = check_program(request.source, set(scene.entries))
        if program is None:
            return report
        errors = trace_errors(from_checked(program, scene.entries), scene)
        return ValidationReport(ok=not errors, errors=errors, terms=report.terms)

    def validate_check(self, request: ValidateCheck) -> ValidationReport:
        from server.checks.evaluate import from_checked

        scene = self.scene(request.scene_id)
        report, program = static_check_of_check(scene, request.source)
        if program is None:
            return report
        errors = check_trace_errors(from_checked(program), scene)
        return ValidationReport(ok=not errors, errors=errors, terms=[], figures=report.figures)

    def judge_base(self, request: JudgeBase) -> CheckResult:
        """The check's verdict on BASE_EPISODES deterministic rollouts of the base policy."""
        from server.checks.evaluate import figure_values, from_checked
        from server.policies.manifest import decode_manifest

        manifest = decode_manifest(request.base.manifest)  # before the scene: a foreign base fails fast
        if manifest.scene_id != request.scene_id:
            raise ValueError(f"the base policy is for {manifest.scene_id}, not {request.scene_id}")
        scene = self.scene(request.scene_id)
        report, program = static_check_of_check(scene, request.source)
        if program is None:
            first = report.errors[0]
            raise ValueError(f"the check does not validate (line {first.line}: {first.message})")
        check = from_checked(program)
        trajectories = base_rollouts(scene, manifest, request.base.params, check.reads)
        return check.judge(figure_values(check)(trajectories))

    def evaluate(self, request: Evaluate) -> list[dict[str, float]]:
        import jax

        from server.rewards.compile import compile_program

        scene = self.scene(request.scene_id)
        compiled = compile_program(request.source, scene.entries)
        ctx = scene.contexts[0][1]
        out = []
        for overrides in request.overrides:
            values = jax.jit(lambda c, o: compiled.terms(c, o))(ctx, overrides)
            row = {name: float(value) for name, value in values.items()}
            row["total"] = sum(compiled.weights[n] * row[n] for n in compiled.names)
            out.append(row)
        return out

    def handle(self, request: Request) -> Any:
        hooks = os.environ.get(TEST_HOOKS_ENV) == "1"
        if isinstance(request, Validate):
            return self.validate(request)
        if isinstance(request, ValidateCheck):
            return self.validate_check(request)
        if isinstance(request, JudgeBase):
            return self.judge_base(request)
        if isinstance(request, GetVocabulary):
            return self.scene(request.scene_id).vocabulary
        if isinstance(request, Evaluate):
            return self.evaluate(request)
        if isinstance(request, Prepare):
            return self.prepare(request)
        if isinstance(request, EnvKeys) and hooks:
            return sorted(os.environ)
        if isinstance(request, Probe) and hooks:
            from server.sandbox.escape import attempt

            return {f"{a.action} {a.target}": attempt(a.action, a.target) for a in request.attempts}
        if isinstance(request, Sleep) and hooks:
            time.sleep(request.seconds)
            return None
        raise ValueError(f"request {type(request).__name__} is not available")


def static_check_of_check(scene: Scene, source: str) -> tuple[ValidationReport, Any]:
    """A success check's static check against the scene's entries, their shapes and its episode length:
    (report, the checked program or None)."""
    from server.rewards.static_check import check_check

    shapes = {entry.name: entry.shape for entry in scene.vocabulary.entries}
    return check_check(source, set(scene.entries), shapes, scene.episode_length)


def trace_errors(compiled: Any, scene: Scene) -> list[ProgramError]:
    """Each term must trace (eval_shape) to a float32 scalar, then evaluate (jit) to a finite value."""
    import jax
    import jax.numpy as jnp

    from server.rewards.interpret import program_line

    errors: list[ProgramError] = []

    def fail(name: str, message: str, line: int | None = None) -> None:
        errors.append(
            ProgramError(line=line or compiled.lines[name], column=0, message=message, stage="trace")
        )

    ctx = scene.contexts[0][1]
    good = []
    for name in compiled.names:
        try:
            shape = jax.eval_shape(lambda c, name=name: compiled.term(name, c), ctx)
        except Exception as exc:
            detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
            fail(name, f"term `{name}` failed to trace: {type(exc).__name__}: {detail}", program_line(exc))
            continue
        if tuple(shape.shape) != ():
            fail(
                name,
                f"term `{name}` must return a scalar but returns shape {list(shape.shape)}; "
                "reduce it, e.g. jnp.sum(...) or norm(...)",
            )
        elif shape.dtype != jnp.float32:
            fail(name, f"term `{name}` must return a float32 number but returns {shape.dtype}")
        else:
            good.append(name)
    if not good:
        return errors
    errors += size_errors(compiled, good, ctx)
    if errors:
        return errors
    run = jax.jit(lambda c: {name: compiled.term(name, c) for name in good}).lower(ctx).compile()
    errors += cost_errors(compiled, good, scene, run)
    if errors:
        return errors
    for label, context in scene.contexts:
        values = run(context)
        for name in good:
            value = float(values[name])
            if value != value or value in (float("inf"), float("-inf")):
                what = "NaN" if value != value else "infinite"
                fail(
                    name,
                    f"term `{name}` is {what} on {label}; guard logs, square roots and divisions "
                    "(e.g. jnp.log(x + 1e-6), jnp.maximum(x, 0.0))",
                )
        if errors:
            break  # the reset state's failures are enough; the stepped state would repeat them
    return errors


SAMPLE_EPISODES = 2  # per kind of sample rollout (zero actions, random actions)
SAMPLE_LABELS = ("zero actions", "random actions")  # action scale 0 and 1, keys 1 and 2
MAX_RECORDED_ELEMENTS = 256  # entries larger than this are recorded only for a check that reads them


class _Clock:
    """Seconds per named phase, for the prepare reply and the benchmark."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 3)
        self._last = now


def recordable(scene: Scene) -> frozenset[str]:
    """The entries `prepare` records in the sample rollouts: all but the few large arrays."""
    import math

    return frozenset(
        entry.name for entry in scene.vocabulary.entries if math.prod(entry.shape) <= MAX_RECORDED_ELEMENTS
    )


def sample_rollouts(
    scene: Scene, reads: frozenset[str], clock: _Clock | None = None
) -> list[tuple[str, Any]]:
    """Two kinds of real rollouts a check must tell apart from success: the robot doing nothing, and the
    robot moving at random (each from its own initial states). One compiled rollout serves both (the
    action scale is its argument: a Go1 rollout takes minutes to compile on a loaded CPU). Cached per
    set of entries recorded; any cached set that covers `reads` serves (the entries recorded do not
    change the states, so the values are the same)."""
    import jax

    from server.checks.evaluate import make_rollouts, scaled_random_action
    from server.rewards.static_check import ALIVE

    reads = reads - {ALIVE}  # every rollout records `alive`
    every = recordable(scene)
    if reads <= every:
        reads = every  # one compile serves this check and every later one
    for recorded, samples in scene.samples.items():
        if reads <= recorded:
            return samples
    clock = clock or _Clock()
    if reads == every and (loaded := load_samples(scene, reads)) is not None:
        clock.lap("rollout from disk")
        scene.samples[reads] = loaded
        return loaded
    size = int(scene.env.action_size)
    run = make_rollouts(
        scene.env, scene.entries, reads, scene.episode_length, SAMPLE_EPISODES, scaled_random_action(size)
    )
    compiled = run.lower(0.0, jax.random.PRNGKey(1)).compile()  # type: ignore[attr-defined]
    clock.lap("rollout compile")
    samples = [
        (SAMPLE_LABELS[0], compiled(0.0, jax.random.PRNGKey(1))),
        (SAMPLE_LABELS[1], compiled(1.0, jax.random.PRNGKey(2))),
    ]
    jax.tree_util.tree_map(lambda x: x.block_until_ready(), [v for _, v in samples])  # the lap: the run
    clock.lap("rollout run")
    scene.samples[reads] = samples
    if reads == every:
        save_samples(scene, samples)
    return samples


BASE_EPISODES = 10  # as many starts as a training evaluation judges (server/checks/verdict.py)
BASE_STARTS_KEY = 3  # fixed starts: the same base and check always get the same verdict


def base_rollouts(scene: Scene, manifest: PolicyManifest, data: bytes, reads: frozenset[str]) -> Any:
    """Deterministic rollouts of a base policy (its manifest and params file) recording `reads` (with every
    small entry, so the next check of this base reuses them). The params are checked as a saved policy's
    are (their hash against the manifest, their tree against the manifest's network) before anything runs."""
    import jax
    from brax.training.agents.ppo import networks as ppo_networks

    from server.checks.evaluate import make_rollouts, policy_action
    from server.files import sha256_bytes
    from server.policies.manifest import check_params_hash
    from server.policies.networks import make_networks
    from server.policies.params import params_from_bytes
    from server.rewards.static_check import ALIVE

    digest = sha256_bytes(data)
    check_params_hash(digest, manifest)
    every = recordable(scene) - {ALIVE}
    reads = (reads | every) - {ALIVE}
    for (sha, recorded), trajectories in scene.base_rollouts.items():
        if sha == digest and reads <= recorded:
            return trajectories
    # On disk beside the sample rollouts (the same key, plus what makes this base's): compiling them takes
    # 9-34 s on 2 cores, and XLA's cache does not keep that compile.
    file = None
    if scene.samples_file is not None and reads == every:
        what = f"{digest}-{manifest.network!r}-{BASE_EPISODES}-{BASE_STARTS_KEY}".encode()
        file = scene.samples_file.with_name(f"{scene.samples_file.stem}-base-{sha256_bytes(what)[:16]}.npz")
    names = sorted(reads | {ALIVE})
    trajectories = read_rollouts(file, names, (BASE_EPISODES, scene.episode_length))
    if trajectories is None:
        params = params_from_bytes(manifest, data, "the base policy's params")
        act = policy_action(ppo_networks.make_inference_fn(make_networks(manifest)))
        run = make_rollouts(scene.env, scene.entries, reads, scene.episode_length, BASE_EPISODES, act)
        trajectories = run(params, jax.random.PRNGKey(BASE_STARTS_KEY))
        write_rollouts(file, trajectories)
    scene.base_rollouts[(digest, reads)] = trajectories
    return trajectories


SAMPLES_FORMAT = 2  # bump when make_rollouts, the sample keys or episodes change what is recorded


def samples_key(scene: Scene) -> str:
    """What determines a scene's sample rollouts: the scene (its packages and export format), JAX, the
    vocabulary's format, and what is recorded over how many steps. A changed key is a fresh file."""
    import math

    import jax

    from server.files import sha256_bytes
    from server.rewards.checker import VOCABULARY_FORMAT
    from server.scenes.registry import cache_key

    recorded = sorted((e.name, math.prod(e.shape)) for e in scene.vocabulary.entries)
    parts = (
        cache_key(),
        jax.__version__,  # not package metadata: a frozen bundle may not carry jax's dist-info
        VOCABULARY_FORMAT,
        SAMPLES_FORMAT,
        MAX_RECORDED_ELEMENTS,
        SAMPLE_EPISODES,
        scene.episode_length,
        recorded,
    )
    return sha256_bytes(repr(parts).encode())[:16]


def load_samples(scene: Scene, recorded: frozenset[str]) -> list[tuple[str, Any]] | None:
    """The scene's sample rollouts from disk, or None when absent or not exactly what is expected (a
    damaged or foreign file is recomputed, never trusted)."""
    from server.rewards.static_check import ALIVE

    names = sorted(recorded | {ALIVE})
    keys = [f"{index}/{name}" for index in range(len(SAMPLE_LABELS)) for name in names]
    arrays = read_rollouts(scene.samples_file, keys, (SAMPLE_EPISODES, scene.episode_length))
    if arrays is None:
        return None
    return [
        (label, {name: arrays[f"{index}/{name}"] for name in names})
        for index, label in enumerate(SAMPLE_LABELS)
    ]


def save_samples(scene: Scene, samples: list[tuple[str, Any]]) -> None:
    arrays = {f"{i}/{name}": v for i, (_, values) in enumerate(samples) for name, v in values.items()}
    write_rollouts(scene.samples_file, arrays)


def read_rollouts(path: Path | None, keys: list[str], leading: tuple[int, int]) -> dict[str, Any] | None:
    """Recorded rollouts from an npz file: exactly `keys`, each shaped [episodes, steps, ...] as `leading`
    says; None when absent or anything else (a damaged or foreign file is recomputed, never trusted)."""
    import jax.numpy as jnp
    import numpy as np

    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if sorted(data.files) != sorted(keys):
                return None
            arrays = {key: jnp.asarray(data[key]) for key in keys}
    except Exception as exc:  # truncated, not an npz
        print(f"ignoring the rollouts in {path}: {exc}", file=sys.stderr)
        return None
    return arrays if all(v.shape[:2] == leading for v in arrays.values()) else None


def write_rollouts(path: Path | None, arrays: dict[str, Any]) -> None:
    """Write atomically (write_atomic), so a killed worker leaves no half file; a full disk keeps them in
    memory only."""
    import io

    import numpy as np

    from server.files import write_atomic

    if path is None:
        return
    buffer = io.BytesIO()
    np.savez(buffer, **{key: np.asarray(value) for key, value in arrays.items()})  # type: ignore[arg-type]
    try:
        write_atomic(path, buffer.getvalue())
    except OSError as exc:
        print(f"could not keep the rollouts in {path}: {exc}", file=sys.stderr)


def check_trace_errors(check: Any, scene: Scene) -> list[ProgramError]:
    """Each figure must trace to a scalar and be finite on real rollouts; and the check must fail at
    least one of them (a check that passes whatever the robot does cannot tell success from failure)."""
    import jax

    from server.rewards.interpret import program_line
    from server.rewards.static_check import ALIVE

    errors: list[ProgramError] = []

    def fail(name: str | None, message: str, line: int | None = None) -> None:
        where = line or (check.lines[name] if name else 0)
        errors.append(ProgramError(line=where, column=0, message=message, stage="trace"))

    samples = [
        (label, {name: values[name] for name in check.reads | {ALIVE}})  # what the check reads, only
        for label, values in sample_rollouts(scene, check.reads)
    ]
    one_episode = jax.tree_util.tree_map(lambda x: x[0], samples[0][1])
    for name in check.names:
        try:
            shape = jax.eval_shape(lambda t, name=name: check.figures(t)[name], one_episode)
        except Exception as exc:
            detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
            fail(name, f"figure `{name}` failed to trace: {type(exc).__name__}: {detail}", program_line(exc))
            continue
        if tuple(shape.shape) != ():
            fail(
                name,
                f"figure `{name}` must return one number but returns shape {list(shape.shape)}; reduce it "
                "over the steps, e.g. jnp.mean(...) or jnp.max(...)",
            )
    if errors:
        return errors
    from server.checks.evaluate import figure_values

    run = figure_values(check)
    verdicts = []
    for label, trajectories in samples:
        result = check.judge(run(trajectories))
        for figure in result.figures:
            if (
                figure.mean != figure.mean
                or figure.worst != figure.worst
                or abs(figure.worst) == float("inf")
            ):
                fail(
                    figure.name,
                    f"figure `{figure.name}` is NaN or infinite on a rollout with {label}; guard "
                    "divisions and logs (e.g. jnp.maximum(x, 1e-6))",
                )
        verdicts.append(result.passed)
    if not errors and all(verdicts):
        fail(
            None,
            "the check passes both when the robot does nothing (zero actions) and when it moves at random, "
            "so it cannot tell success from failure: tighten the requirements",
        )
    return errors


def flops(compiled: Any) -> float | None:
    """XLA's flop estimate for a compiled function, when the backend gives one."""
    try:
        analysis = compiled.cost_analysis()
    except Exception:  # not every backend implements it
        return None
    if isinstance(analysis, list):
        analysis = analysis[0] if analysis else None
    value = analysis.get("flops") if isinstance(analysis, dict) else None
    return float(value) if value is not None and value >= 0 else None


def size_errors(compiled: Any, names: list[str], ctx: Any) -> list[ProgramError]:
    """Each term's largest intermediate array, from its jaxpr (no compilation): a term that builds a
    10000 x 10000 matrix is refused here, before XLA would try to allocate it."""
    import jax

    errors = []
    for name in names:
        jaxpr = jax.make_jaxpr(lambda c, name=name: compiled.term(name, c))(ctx)
        largest, shape = _largest_array(jaxpr.jaxpr)
        if largest > MAX_ARRAY_ELEMENTS:
            errors.append(
                ProgramError(
                    line=compiled.lines[name],
                    column=0,
                    message=f"term `{name}` builds an array of {largest:,} numbers (shape {list(shape)}); "
                    f"the limit is {MAX_ARRAY_ELEMENTS:,}: training evaluates every term at every step "
                    "of thousands of parallel environments",
                    stage="trace",
                )
            )
    return errors


def _largest_array(jaxpr: Any) -> tuple[int, tuple[int, ...]]:
    import math

    largest: tuple[int, tuple[int, ...]] = (0, ())
    stack = [jaxpr]
    while stack:
        current = stack.pop()
        for eqn in current.eqns:
            for var in eqn.outvars:
                shape = tuple(getattr(var.aval, "shape", ()))
                size = math.prod(shape)
                if size > largest[0]:
                    largest = (size, shape)
            for param in eqn.params.values():  # nested programs: pjit, cond branches, scan bodies
                for inner in param if isinstance(param, list | tuple) else [param]:
                    body = getattr(inner, "jaxpr", inner)
                    if hasattr(body, "eqns"):
                        stack.append(body)
    return largest


def cost_errors(compiled: Any, names: list[str], scene: Scene, run: Any) -> list[ProgramError]:
    """Refuse terms whose compiled cost dwarfs the scene's physics step (it would slow training by about
    that factor), naming the most expensive term."""
    import jax

    cost, step = flops(run), scene.step_flops
    if cost is None or step is None:
        return []  # no estimate on this backend: the size check above still holds
    budget = max(MAX_COST_RATIO * step, MIN_TERM_FLOPS)
    if cost <= budget:
        return []
    ctx = scene.contexts[0][1]
    per_term = {
        name: flops(jax.jit(lambda c, name=name: compiled.term(name, c)).lower(ctx).compile()) or 0.0
        for name in names
    }
    worst = max(per_term, key=lambda name: per_term[name])
    message = (
        f"the terms cost about {cost / step:,.0f}x the scene's own physics step ({cost:,.0f} vs "
        f"{step:,.0f} floating-point operations per step; the limit is {budget / step:,.0f}x), so "
        f"training would be about that much slower; the most expensive is `{worst}` "
        f"({per_term[worst]:,.0f}): use smaller arrays or fewer operations"
    )
    return [ProgramError(line=compiled.lines[worst], column=0, message=message, stage="trace")]


def serve(worker: Worker, stdin: Any, stdout: Any) -> None:
    decoder = msgspec.msgpack.Decoder(Request)
    while True:
        frame = read_frame(stdin)
        if frame is None:
            return
        arm_cpu_limit()
        try:
            request = decoder.decode(frame)
            value = worker.handle(request)
            reply = Reply(ok=True, value=msgspec.Raw(msgspec.msgpack.encode(value)))
        except UnknownSceneError as exc:
            reply = Reply(
                ok=False, error=f"unknown scene {exc.args[0] if exc.args else ''!r}", kind="unknown_scene"
            )
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            reply = Reply(ok=False, error=f"{type(exc).__name__}: {exc}"[:2000], kind="error")
        stdout.write(pack(reply))
        stdout.flush()


def samples_folder(compile_cache: Path) -> Path:
    """Sample rollouts kept across launches, beside XLA's compile cache."""
    return compile_cache.parent / "check-samples"


def confinement(menagerie: Path, compile_cache: Path | None) -> Confinement:
    """Reads the scene cache (Menagerie links, exported models); writes only XLA's compile cache and
    the sample rollouts beside it."""
    if compile_cache is None:
        return Confinement(read=(menagerie,))
    return Confinement(
        read=(menagerie, compile_cache.parent), write=(compile_cache, samples_folder(compile_cache))
    )


def main() -> None:
    menagerie = Path(sys.argv[1]) if len(sys.argv) > 1 else Path()
    compile_cache = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    if compile_cache is not None:
        # Before confine: Landlock grants nothing on a path that does not exist yet, and the parent is
        # read-only, so without this the cache was never written (every launch compiled again).
        compile_cache.mkdir(parents=True, exist_ok=True)
        samples_folder(compile_cache).mkdir(exist_ok=True)
    confine(confinement(menagerie, compile_cache))
    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed from here on goes to the log, not into the protocol
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    if compile_cache is not None:
        # Reset, step and the sample rollouts take 5-60 s to compile per scene; XLA's persistent cache
        # makes later launches fast. The threshold keeps the small scenes' sub-second reset too (the
        # default of 1 s skipped them); a reward's own compile is cheap and stays out of the cache.
        import jax

        jax.config.update("jax_compilation_cache_dir", str(compile_cache))  # type: ignore[no-untyped-call]
        jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_CACHED_COMPILE_S)  # type: ignore[no-untyped-call]
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)  # type: ignore[no-untyped-call]
    worker = Worker(menagerie, samples_folder(compile_cache) if compile_cache is not None else None)
    worker.playground()  # import JAX and Playground before saying ready (~7 s)
    protocol_out.write(pack(Reply(ok=True)))
    protocol_out.flush()
    serve(worker, sys.stdin.buffer, protocol_out)


if __name__ == "__main__":
    main()
