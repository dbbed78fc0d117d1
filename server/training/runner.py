"""Train a PPO policy on a Playground scene with a reward program. Runs in the training worker process.

`train(spec, ...)` loads the scene (impl "jax"), compiles the program, wraps the env in `RewardEnv`, and
runs `brax.training.agents.ppo.train` with brax's own evaluator off. At every evaluation (step 0 and after
each epoch batch, where brax hands over the params) it

1. evaluates the params (server/training/evaluation.py: the eval reward, its terms and the success check's
   verdict from one set of deterministic rollouts) and refuses non-finite results: a term that was
   NaN/inf, a NaN eval reward or NaN params raise `TrainingFailed` naming the term when it can, and such
   params are never saved;
2. writes `work_dir/checkpoint.msgpack` + `checkpoint.json` (step, total, history) atomically, and the live
   preview's folder `work_dir/live/` (`_write_live`);
3. reports a `TrainingProgress` (steps/s measured on the wall clock; brax's `training/sps` is not);
4. stops after the eval that passes `spec.time_budget_s`, keeping that eval's params.

`live/` is also written once before `ppo.train` compiles (untrained params, or the fine-tune's base, or the
resumed checkpoint), so a preview can compile its worker while training compiles (docs/PREVIEW.md).

At the end the policy goes to `work_dir/policy/` (server.policies) and its manifest is returned. `resume`
continues from the checkpoint for the remaining steps; `base_params_dir` fine-tunes a saved policy
(same network; its observation normaliser kept as it is, its critic the start of the new reward's).
"""

from __future__ import annotations

import importlib.metadata
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from server.checks.types import CheckResult, StopReason, TrainingOutcome
from server.checks.verdict import CHECK_EPISODES, EarlyStop, rank
from server.policies.checkpoints import Checkpoint, read_checkpoint, write_checkpoint
from server.policies.manifest import OBS_IS_DICT, InvalidPolicy, PolicyManifest, read_manifest
from server.policies.networks import network_factory
from server.policies.params import load_policy, params_template, save_policy
from server.scenes.loader import LoadedScene
from server.training.evaluation import EVAL_EPISODES, Evaluator, nonfinite_message
from server.training.presets import (
    PpoConfig,
    build_config,
    for_fine_tune,
    resolve_preset,
    steps_brax_runs,
)
from server.training.protocol import BEST_DIR, LIVE_DIR, POLICY_DIR
from server.training.types import Device, JobSpec, TrainingProgress

log = logging.getLogger(__name__)

_VERSIONED = ("jax", "jaxlib", "brax", "playground", "mujoco", "mujoco-mjx", "flax")


class TrainingFailed(RuntimeError):  # noqa: N818 (the name the job manager codes against)
    """The job cannot produce a policy; the message is for the user and names the reward term if known."""


class _StopTraining(Exception):  # noqa: N818 (a signal, not an error)
    """Raised inside progress_fn to end `ppo.train` early (time budget); never escapes `train`."""


def versions() -> dict[str, str]:
    out = {}
    for dist in _VERSIONED:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "missing"
    return out


def device_kind() -> Device:
    import jax

    return "gpu" if jax.default_backend() == "gpu" else "cpu"


def load_scene(
    scene_id: str,
    scene_cache_dir: Path,
    extra_overrides: Callable[[Any], dict[str, Any]] | None = None,
    device: Device = "cpu",
) -> LoadedScene:
    """The scene as training on `device` loads it (server/scenes/loader.py picks the implementation).

    `extra_overrides(default_config)` adds config overrides. A scene that cannot load fails the job."""
    from server.scenes.loader import SceneLoadError, UnknownSceneError, find_menagerie, load_env

    try:
        return load_env(
            scene_id,
            purpose="train",
            device=device,
            menagerie_dir=find_menagerie(scene_cache_dir),
            config_overrides=extra_overrides,
        )
    except UnknownSceneError as exc:
        raise TrainingFailed(str(exc)) from exc
    except SceneLoadError as exc:
        raise TrainingFailed(f"scene {scene_id!r} failed to load: {exc}") from exc


def params_finite(params: Any) -> bool:
    import jax
    import jax.numpy as jnp

    leaves = jax.tree_util.tree_leaves(params)
    return all(
        bool(jnp.all(jnp.isfinite(leaf))) for leaf in leaves if jnp.issubdtype(leaf.dtype, jnp.floating)
    )


def _draft_manifest(
    spec: JobSpec, scene: LoadedScene, config: PpoConfig, *, job_id: str | None, policy_id: str | None
) -> PolicyManifest:
    from server.scenes.export import normalise_observation_size

    env = scene.env
    flat = config.flat()
    flat[OBS_IS_DICT] = isinstance(env.observation_size, Mapping)
    flat["impl"] = str(getattr(env, "_config", {}).get("impl", "jax"))
    return PolicyManifest(
        policy_id=policy_id or uuid.uuid4().hex,
        name=spec.name,
        scene_id=spec.scene_id,
        task_description=spec.task_description,
        program=spec.program,
        check=spec.check,
        network=config.network,
        observation_size=normalise_observation_size(env.observation_size),
        action_size=int(env.action_size),
        ctrl_dt=float(env.dt),
        training_config=flat,
        metrics_history=[],
        final_eval_reward=None,
        created_at=datetime.now(UTC),
        versions=versions(),
        job_id=job_id,
        base_policy_id=spec.base_policy_id,
        params_sha256="",
    )


def _write_live(
    work_dir: Path, params: Any, manifest: PolicyManifest, history: list[TrainingProgress]
) -> None:
    """The newest params as a complete policy folder (`LIVE_DIR`) for the live preview: the job's draft
    manifest with the history up to these params. Written before the progress event that announces it
    (params first, then the manifest: a manifest always names the params file beside it once both are
    written; a reader racing the next write may see a hash mismatch and should read again)."""
    save_policy(
        work_dir / LIVE_DIR,
        params,
        msgspec.structs.replace(
            manifest,
            metrics_history=list(history),
            final_eval_reward=history[-1].eval_reward if history else None,
            created_at=datetime.now(UTC),
        ),
    )


def judge_saved_policy(folder: Path, cache_dir: Path, seed: int) -> CheckResult | None:
    """A saved policy's verdict as its job reported it: its own check on the same unseen starts (the job's
    seed; the first CHECK_EPISODES of each batch are the same however many episodes its evaluations
    played), re-run here. None when the policy has no check."""
    from brax.training.agents.ppo import networks as ppo_networks

    from server.checks.evaluate import compile_check
    from server.policies.networks import make_networks
    from server.rewards.compile import compile_program
    from server.rewards.vocabulary import build_entries

    if read_manifest(folder).check is None:  # before the params: a policy without a check needs none
        return None
    manifest, params = load_policy(folder)
    assert manifest.check is not None
    scene = load_scene(manifest.scene_id, cache_dir, device="cpu")
    entries = build_entries(manifest.scene_id, scene.env)
    evaluator = Evaluator(
        scene,
        compile_program(manifest.program, entries),
        compile_check(manifest.check, entries, scene.episode_length),
        ppo_networks.make_inference_fn(make_networks(manifest)),
        episodes=CHECK_EPISODES,
        seed=seed,
    )
    return evaluator.confirm(params)


class _BestKeeper:
    """Keeps the best evaluation's params by (verdict, check score, eval reward) in `work_dir/best/` (a
    complete policy folder, so a stopped or killed job still has something to keep) and decides the early
    stop."""

    def __init__(self, work_dir: Path, manifest: PolicyManifest, *, early_stop_evals: int) -> None:
        self.folder = work_dir / BEST_DIR
        self.manifest = manifest
        self.early = EarlyStop(early_stop_evals)
        self.params: Any = None
        self.progress: TrainingProgress | None = None
        self.confirmed: CheckResult | None = None  # the kept params' verdict on unseen starts, once judged
        self.stop_reason: StopReason = "completed"

    def restore(self, history: list[TrainingProgress]) -> None:
        """After a resume: the best so far from `best/`, and the early-stop streak from the history."""
        for point in history:
            self.early.update(point.check)
        try:
            saved, params = load_policy(self.folder)
        except InvalidPolicy:
            return
        kept = saved.outcome.kept_step if saved.outcome is not None else None
        match = [p for p in history if p.step == kept]
        if match:
            self.params, self.progress = params, match[-1]

    def offer(self, params: Any, progress: TrainingProgress) -> bool:
        """Records `progress` (keeping its params if best); True when the early-stop rule says done."""
        if self.progress is None or rank(progress.check, progress.eval_reward) > rank(
            self.progress.check, self.progress.eval_reward
        ):
            self.params, self.progress, self.confirmed = params, progress, None
            self._save()
        return self.early.update(progress.check)

    def confirm(self, evaluator: Evaluator) -> CheckResult | None:
        """The kept params' verdict on starts no evaluation saw (judged once per kept checkpoint). One that
        fails there passed its evaluation by luck: it ranks by this verdict from now on, so any later
        evaluation that passes replaces it."""
        if self.confirmed is None and self.progress is not None:
            self.confirmed = evaluator.confirm(self.params)
            if self.confirmed is not None and not self.confirmed.passed:
                self.progress = msgspec.structs.replace(self.progress, check=self.confirmed)
                self._save()
        return self.confirmed

    def _save(self) -> None:
        outcome = self._outcome("stopped")
        save_policy(
            self.folder,
            self.params,
            msgspec.structs.replace(self.manifest, outcome=outcome, created_at=datetime.now(UTC)),
        )

    def _outcome(self, reason: StopReason) -> TrainingOutcome:
        assert self.progress is not None
        return TrainingOutcome(
            kept_step=self.progress.step,
            kept_eval_reward=self.progress.eval_reward,
            check=self.progress.check,
            stop_reason=reason,
            stopped_early=reason != "completed",
        )

    def result(self, final: Any, history: list[TrainingProgress]) -> tuple[Any, TrainingOutcome | None]:
        """The params to save and their outcome; `final` (brax's last) only when no evaluation was kept."""
        if self.progress is None:
            return final, None
        return self.params, self._outcome(self.stop_reason)


def train(
    spec: JobSpec,
    *,
    scene_cache_dir: Path,
    work_dir: Path,
    report: Callable[[TrainingProgress], None],
    resume: bool = False,
    base_params_dir: Path | None = None,
    job_id: str | None = None,
    policy_id: str | None = None,
) -> PolicyManifest:
    """Train `spec` and save the policy to `work_dir/policy/`; raises TrainingFailed with a user message."""
    from brax.training.agents.ppo import train as ppo
    from mujoco_playground import wrapper

    from server.rewards.compile import ProgramRejectedError, compile_program
    from server.rewards.reward_env import RewardEnv
    from server.rewards.vocabulary import build_entries

    started = time.monotonic()
    work_dir.mkdir(parents=True, exist_ok=True)
    scene = load_scene(spec.scene_id, scene_cache_dir, device=device_kind())
    try:
        compiled = compile_program(spec.program, build_entries(spec.scene_id, scene.env))
    except ProgramRejectedError as exc:
        raise TrainingFailed(f"the reward program was rejected: {exc}") from exc
    preset = resolve_preset(spec.preset, device_kind())
    config = build_config(
        preset,
        scene_id=spec.scene_id,
        family=scene.family,
        episode_length=scene.episode_length,
        timesteps=spec.timesteps,
    )
    if base_params_dir is not None:  # a resumed fine-tune must run the same config as its first run
        config = for_fine_tune(config)
    manifest = _draft_manifest(spec, scene, config, job_id=job_id, policy_id=policy_id)

    restore: Any = None
    offset, history = 0, []
    if base_params_dir is not None:
        try:
            base_manifest, restore = load_policy(base_params_dir)
        except InvalidPolicy as exc:
            raise TrainingFailed(f"cannot fine-tune: {exc}") from exc
        if (base_manifest.observation_size, base_manifest.action_size) != (
            manifest.observation_size,
            manifest.action_size,
        ):
            raise TrainingFailed(
                f"the base policy was trained on a different scene ({base_manifest.scene_id})"
            )
        # The restored params only fit the network they were trained with. The critic is the base's too, as
        # a start that the new reward retrains: from a fresh one, the first updates' noisy advantages
        # undid a balancing cart-pole in every fine-tune measured (docs/BENCHMARKS.md, tiers).
        manifest = msgspec.structs.replace(manifest, network=base_manifest.network)
    if resume:
        try:
            checkpoint, restore = read_checkpoint(work_dir, manifest)
        except InvalidPolicy as exc:
            raise TrainingFailed(f"cannot resume: {exc}") from exc
        offset, history = checkpoint.step, list(checkpoint.history)
        total = checkpoint.total_steps
    else:
        total = config.num_timesteps
    # A fine-tune keeps the base's observation normaliser as it is: the policy's inputs must keep meaning
    # what they meant. brax would go on updating it with the new run's observations (its `until_count`
    # does not stop Welford statistics), and that alone undid a balancing cart-pole within 1M steps even
    # at learning rate 0. (A resumed fine-tune's checkpoint carries the same frozen normaliser.)
    frozen = restore[0] if base_params_dir is not None and restore is not None else None

    def with_frozen_normaliser(params: Any) -> Any:
        return params if frozen is None or params is None else (frozen, *params[1:])

    # What brax will really run (it rounds up to whole epochs), so "step N of TOTAL" never passes TOTAL.
    remaining = steps_brax_runs(total - offset, config.ppo)
    total = offset + remaining
    # Before anything compiles: a preview can start (and compile) on these while training compiles.
    _write_live(work_dir, restore if restore is not None else params_template(manifest), manifest, history)

    check = None
    if spec.check is not None:
        from server.checks.evaluate import compile_check

        try:
            check = compile_check(spec.check, compiled.entries, scene.episode_length)
        except ProgramRejectedError as exc:
            raise TrainingFailed(f"the success check was rejected: {exc}") from exc
    # Evaluations play whole episodes of the scene's own length, what playback shows, even when a quick
    # preset trains on shorter ones (a check's `s.x[500:]` means the second half of the real episode), with
    # the network the saved policy will play with.
    from brax.training.agents.ppo import networks as ppo_networks

    from server.policies.networks import make_networks

    evaluator = Evaluator(
        scene,
        compiled,
        check,
        ppo_networks.make_inference_fn(make_networks(manifest)),
        episodes=int(config.ppo.get("num_eval_envs", EVAL_EPISODES)),
        seed=spec.seed,
    )
    keeper = _BestKeeper(work_dir, manifest, early_stop_evals=spec.early_stop_evals)
    if resume:
        keeper.restore(history)
    state: dict[str, Any] = {"good": restore, "t0": None, "s0": offset}

    def evaluate(step: int, _make_policy: Any, params: Any) -> None:
        """brax's policy_params_fn: called with the params at step 0 and after every epoch batch."""
        params = with_frozen_normaliser(params)
        absolute = offset + int(step)
        # Before the clock: the rollouts' compile is not training speed.
        scores, verdict = evaluator.evaluate(params, absolute)
        why = nonfinite_message(scores, params_finite(params))
        if why is not None:
            raise TrainingFailed(why)
        now = time.monotonic()
        if state["t0"] is None or absolute == state["s0"]:
            state["t0"], state["s0"] = now, absolute  # rates start after the first eval (compilation)
        rate = (absolute - state["s0"]) / (now - state["t0"]) if now > state["t0"] else 0.0
        left = max(total - absolute, 0)
        progress = TrainingProgress(
            step=absolute,
            total_steps=total,
            eval_reward=scores.eval_reward,
            reward_terms=scores.reward_terms,
            task_reward=scores.task_reward,
            steps_per_second=rate,
            elapsed_s=now - started,
            eta_s=left / rate if rate > 0 else None,
            reward_term_std=scores.reward_term_std,
            check=verdict,
        )
        history.append(progress)
        write_checkpoint(work_dir, params, Checkpoint(step=absolute, total_steps=total, history=history))
        state["good"] = params
        _write_live(work_dir, params, manifest, history)
        done = keeper.offer(params, progress)
        # A fine-tune whose base already passes the new check has nothing to learn: keep the base as it is
        # (more updates on a critic still learning the new reward can only put at risk what passes).
        base_passes = (
            base_params_dir is not None
            and not resume
            and absolute == 0
            and spec.early_stop_evals > 0
            and verdict is not None
            and verdict.passed
        )
        # The rule says done: stop only if the kept policy also passes on starts no evaluation saw, else
        # train on. (A reacher that passed twenty evaluation starts in a row missed 9 of 20 others, and a
        # round stopped there left the next round to start over: docs/BENCHMARKS.md.)
        rule_says_done = left > 0 and (done or base_passes)
        confirmed = keeper.confirm(evaluator) if rule_says_done else None
        if confirmed is not None:
            progress = msgspec.structs.replace(progress, confirmation=confirmed)
            history[-1] = progress
        report(progress)  # after the files: whoever reads the event finds them
        if rule_says_done and (confirmed is None or confirmed.passed):
            keeper.stop_reason = "check_passed"
            raise _StopTraining
        over_time = spec.time_budget_s is not None and now - started >= spec.time_budget_s
        if over_time and left > 0 and state["good"] is not None:  # a time cap keeps something
            keeper.stop_reason = "time_cap"
            raise _StopTraining

    final = state["good"]
    if remaining > 0:
        env = RewardEnv(scene.env, compiled)
        ppo_kwargs = {k: v for k, v in config.ppo.items() if k != "num_eval_envs"}  # ours: `evaluator`
        try:
            _, final, _ = ppo.train(
                environment=env,
                num_timesteps=remaining,
                wrap_env_fn=wrapper.wrap_for_brax_training,
                network_factory=network_factory(manifest.network, frozen_normalizer=frozen),
                seed=spec.seed,
                run_evals=False,  # `evaluate` judges each epoch's params (server/training/evaluation.py)
                progress_fn=lambda _step, _metrics: None,  # brax's training metrics: not shown
                policy_params_fn=evaluate,
                restore_params=restore,
                restore_value_fn=True,  # a resume's critic, and a fine-tune's (see above)
                **ppo_kwargs,
            )
        except _StopTraining:
            final = state["good"]
        final = with_frozen_normaliser(final)
        # brax hands over the params after its last epoch, so `evaluate` checked `final`; check anyway.
        if final is None:
            raise TrainingFailed("training ended before its first evaluation: there is no policy to keep")
        if not params_finite(final):
            raise TrainingFailed("training produced no usable parameters (NaN)")
    kept_params, outcome = keeper.result(final, history)
    if outcome is not None and outcome.check is not None:
        # What the user gets is judged on starts it was not chosen by: this verdict is the policy's.
        confirmed = keeper.confirm(evaluator)
        if confirmed is not None:
            outcome = msgspec.structs.replace(outcome, check=confirmed)
    manifest = msgspec.structs.replace(
        manifest,
        metrics_history=history,
        # The kept policy's own eval reward (the library shows it), not the last evaluation's.
        final_eval_reward=outcome.kept_eval_reward
        if outcome
        else (history[-1].eval_reward if history else None),
        created_at=datetime.now(UTC),
        outcome=outcome,
    )
    saved = save_policy(work_dir / POLICY_DIR, kept_params, manifest)
    from server.policies.clip import save_clip

    # A clip that cannot be made is logged, never fails the job.
    save_clip(work_dir / POLICY_DIR, scene, make_states=evaluator.clip_states)
    return saved
