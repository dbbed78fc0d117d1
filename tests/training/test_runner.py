"""The training runner with real JAX on tiny budgets: train, save/load, NaN rewards, worker, fine-tune."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import msgspec
import numpy as np
import pytest

from server.checks.verdict import CHECK_EPISODES
from server.policies.manifest import CLIP_FILE, PolicyManifest
from server.training.evaluation import CONFIRM_BATCHES
from server.training.types import JobSpec, TrainingProgress

ROOT = Path(__file__).resolve().parent.parent.parent
PROGRAM = '''"""Keep the pole up and the cart near the centre."""

WEIGHTS = dict(upright=1.0, centred=0.5, effort=-0.01)


def upright(s):
    return jnp.cos(s.pole_angle)


def centred(s):
    return tolerance(s.cart_position, -0.25, 0.25, 1.0)


def effort(s):
    return jnp.sum(jnp.square(s.action))
'''
NAN_PROGRAM = """WEIGHTS = dict(upright=1.0, broken=0.1)


def upright(s):
    return jnp.cos(s.pole_angle)


def broken(s):
    return jnp.log(s.cart_position - 100.0)
"""


def quick(program: str = PROGRAM, **kw: object) -> JobSpec:
    return JobSpec(scene_id="CartpoleBalance", program=program, preset="cpu_quick", **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def cache(scene_cache: Path) -> Path:
    """The session's scene cache: this module trains in this process, whose compilations go to the same
    cache as its workers' (tests/session_cache.py), so a run after the first compiles little."""
    return scene_cache


@pytest.fixture(scope="module")
def trained(
    cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, PolicyManifest, list[TrainingProgress]]:
    import shutil

    from brax.training.agents.ppo import train as ppo

    from server.training.runner import train

    work = tmp_path_factory.mktemp("job")
    reports: list[TrainingProgress] = []

    def report(progress: TrainingProgress) -> None:
        # What a preview told of this event would find: live/ as it is when the event is written.
        shutil.copytree(work / "live", work / "live-seen" / str(len(reports)))
        reports.append(progress)

    real_train = ppo.train

    def train_seeing_live(**kwargs: object) -> object:
        shutil.copytree(work / "live", work / "live-before-brax")  # what a preview finds while brax compiles
        return real_train(**kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ppo, "train", train_seeing_live)
        manifest = train(quick(name="tiny"), scene_cache_dir=cache, work_dir=work, report=report)
    return work, manifest, reports


def test_train_reports_checkpoints_and_saves_a_policy(
    trained: tuple[Path, PolicyManifest, list[TrainingProgress]],
) -> None:
    work, manifest, reports = trained
    assert reports[0].step == 0 and reports[-1].step >= 4096
    last = reports[-1]
    assert last.eval_reward is not None and np.isfinite(last.eval_reward)
    assert set(last.reward_terms) == {"upright", "centred", "effort"}
    assert last.task_reward is not None and last.steps_per_second > 0
    # The eval reward is the program's weighted total of its terms.
    total = (
        last.reward_terms["upright"] + 0.5 * last.reward_terms["centred"] - 0.01 * last.reward_terms["effort"]
    )
    assert total == pytest.approx(last.eval_reward, rel=1e-3, abs=1e-2)
    meta = json.loads((work / "checkpoint.json").read_text())
    assert meta["step"] == last.step and len(meta["history"]) == len(reports)
    assert (work / "checkpoint.msgpack").stat().st_size > 0
    assert manifest.metrics_history == reports and manifest.outcome is not None
    kept = max(reports, key=lambda p: p.eval_reward or 0.0)  # no check: the best eval reward is kept
    assert manifest.outcome.kept_step == kept.step and manifest.final_eval_reward == kept.eval_reward
    assert manifest.training_config["preset"] == "cpu_quick" and manifest.action_size == 1


def test_live_folder_has_untrained_params_first_then_each_evaluations(
    trained: tuple[Path, PolicyManifest, list[TrainingProgress]],
) -> None:
    """live/ (docs/PREVIEW.md) exists before brax compiles, with untrained params of the job's network and
    no history; after each evaluation it holds that evaluation's params and the history up to them, written
    before the progress event."""
    from server.policies.params import load_policy

    work, manifest, reports = trained
    first, untrained = load_policy(work / "live-before-brax")
    assert first.metrics_history == [] and first.final_eval_reward is None
    assert (first.network, first.observation_size, first.action_size) == (
        manifest.network,
        manifest.observation_size,
        manifest.action_size,
    )
    assert first.job_id == manifest.job_id and first.program == manifest.program and first.outcome is None
    assert untrained is not None
    for i in range(len(reports)):
        live, _ = load_policy(work / "live-seen" / str(i))
        assert live.metrics_history == reports[: i + 1]
        assert live.final_eval_reward == reports[i].eval_reward
    # At the end live/ holds the last evaluation's params: the checkpoint's, byte for byte.
    last = (work / "live-seen" / str(len(reports) - 1) / "params.msgpack").read_bytes()
    assert (
        last == (work / "checkpoint.msgpack").read_bytes() == (work / "live" / "params.msgpack").read_bytes()
    )
    assert last != (work / "live-seen" / "0" / "params.msgpack").read_bytes()


def test_policy_round_trips_bit_exactly(trained: tuple[Path, PolicyManifest, list[TrainingProgress]]) -> None:
    import jax

    from server.policies.params import load_policy, make_inference_fn, params_to_bytes

    work, manifest, _ = trained
    directory = work / "policy"
    loaded_manifest, params = load_policy(directory)
    assert loaded_manifest == manifest
    assert params_to_bytes(params) == (directory / "params.msgpack").read_bytes()
    obs = np.random.default_rng(0).normal(size=(16, 5)).astype(np.float32)
    first = np.asarray(make_inference_fn(directory)(obs))
    again = np.asarray(make_inference_fn(directory)(obs))
    assert first.shape == (16, 1) and np.array_equal(first, again)
    leaves = jax.tree_util.tree_leaves(params)
    assert all(np.isfinite(np.asarray(leaf)).all() for leaf in leaves)


def test_tampered_policy_is_refused(
    trained: tuple[Path, PolicyManifest, list[TrainingProgress]], tmp_path: Path
) -> None:
    import shutil

    from server.policies.manifest import InvalidPolicy
    from server.policies.params import load_policy

    copy = tmp_path / "policy"
    shutil.copytree(trained[0] / "policy", copy)
    data = bytearray((copy / "params.msgpack").read_bytes())
    data[-5] ^= 0xFF
    (copy / "params.msgpack").write_bytes(bytes(data))
    with pytest.raises(InvalidPolicy, match="sha256"):
        load_policy(copy)
    (copy / "manifest.json").write_text("{not json")
    with pytest.raises(InvalidPolicy, match="corrupted"):
        load_policy(copy)


def test_nan_term_fails_naming_the_term(cache: Path, tmp_path: Path) -> None:
    from server.training.runner import TrainingFailed, train

    with pytest.raises(TrainingFailed, match="`broken`"):
        train(quick(NAN_PROGRAM), scene_cache_dir=cache, work_dir=tmp_path, report=lambda p: None)
    assert not (tmp_path / "policy").exists()
    assert not (tmp_path / "checkpoint.msgpack").exists()


def test_fine_tune_from_saved_policy(
    trained: tuple[Path, PolicyManifest, list[TrainingProgress]], cache: Path, tmp_path: Path
) -> None:
    from server.training.runner import train

    base_dir = trained[0] / "policy"
    spec = quick(PROGRAM.replace("centred=0.5", "centred=2.0"), base_policy_id=trained[1].policy_id)
    live: list[bytes] = []
    manifest = train(
        spec,
        scene_cache_dir=cache,
        work_dir=tmp_path,
        report=lambda p: live.append((tmp_path / "live" / "params.msgpack").read_bytes()),
        base_params_dir=base_dir,
    )
    assert manifest.base_policy_id == trained[1].policy_id and manifest.network == trained[1].network
    # A fine-tune's preview starts from its base policy, not from untrained params.
    assert live[0] == (base_dir / "params.msgpack").read_bytes()
    assert (tmp_path / "policy" / "manifest.json").exists()
    # The base's observation normaliser is kept as it was (the policy's inputs keep their meaning); the
    # policy itself trained on.
    from server.policies.params import load_policy

    _, base = load_policy(base_dir)
    _, tuned = load_policy(tmp_path / "policy")
    for statistic in ("mean", "std", "summed_variance"):
        assert np.array_equal(getattr(tuned[0], statistic), getattr(base[0], statistic)), statistic
    assert int(tuned[0].count.lo) == int(base[0].count.lo)


def test_worker_process_writes_documented_events(cache: Path, tmp_path: Path) -> None:
    job = {
        "spec": msgspec.to_builtins(quick()),
        "scene_cache_dir": str(cache),
        "resume": False,
        "base_params_dir": None,
    }
    (tmp_path / "job.json").write_text(json.dumps(job))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "JAX_PLATFORMS": "cpu",
        "API_KEY": "x",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "server.training.worker", str(tmp_path)],
        env=env,
        capture_output=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    lines = (tmp_path / "events.jsonl").read_bytes().splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["type"] for e in events[:-1]] == ["progress"] * (len(events) - 1) and len(events) >= 3
    for event in events[:-1]:
        msgspec.convert(event["progress"], TrainingProgress)
    assert events[-1]["type"] == "succeeded"
    manifest = msgspec.json.decode(json.dumps(events[-1]["manifest"]), type=PolicyManifest)
    assert (tmp_path / "policy" / "manifest.json").exists() and manifest.scene_id == "CartpoleBalance"
    # The confined worker renders the policy's clip (EGL on Mesa's software renderer: no display, no GPU).
    assert (tmp_path / "policy" / CLIP_FILE).stat().st_size > 0, proc.stderr.decode()[-3000:]


def test_worker_reports_failure_and_exits_1(cache: Path, tmp_path: Path) -> None:
    (tmp_path / "job.json").write_text(json.dumps({"spec": {"scene_id": "x"}}))
    proc = subprocess.run(
        [sys.executable, "-m", "server.training.worker", str(tmp_path)],
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_bytes().splitlines()]
    assert events == [{"type": "failed", "error": events[0]["error"]}] and "job" in events[0]["error"]


def test_presets_and_estimates() -> None:
    from server.training.presets import build_config, estimate_seconds, resolve_preset, total_steps

    assert resolve_preset("auto", "cpu") == "cpu" and resolve_preset("auto", "gpu") == "playground"
    assert total_steps(quick()) == 4096 and total_steps(quick(timesteps=123)) == 123
    assert total_steps(JobSpec(scene_id="CartpoleBalance", program=PROGRAM)) == 4_000_000
    # The swing-up's budget is its own (the family's 4M never passed its check), in the job, the config
    # and the estimate alike.
    swing = JobSpec(scene_id="CartpoleSwingup", program=PROGRAM)
    assert total_steps(swing) == 6_000_000
    assert (
        build_config(
            "cpu", scene_id="CartpoleSwingup", family="classic_control", episode_length=1000
        ).num_timesteps
        == 6_000_000
    )
    assert estimate_seconds("cpu", scene_id="CartpoleSwingup") == pytest.approx(110.0 + 6_000_000 / 34_000.0)
    assert estimate_seconds("cpu_quick") < estimate_seconds("cpu") < 600
    # A measured scene uses its own speed: fixed cost plus steps at its rate.
    assert estimate_seconds("cpu", scene_id="CartpoleBalance") == pytest.approx(70.0 + 4_000_000 / 43_000.0)
    assert estimate_seconds("cpu", scene_id="CartpoleBalance", timesteps=43_000) == pytest.approx(71.0)
    # FingerSpin steps at a third of the cart-pole's rate: its estimate says so.
    assert estimate_seconds("cpu", scene_id="FingerSpin") > 2 * estimate_seconds(
        "cpu", scene_id="CartpoleBalance"
    )


def test_the_step_total_is_what_brax_runs_not_the_budget_asked_for() -> None:
    from server.training.presets import build_config, steps_brax_runs

    config = build_config("cpu", scene_id="CartpoleBalance", family="classic_control", episode_length=1000)
    per_training_step = 32 * 32 * 16  # batch x unroll x minibatches
    # 9 epochs after the first evaluation, each a whole number of training steps, rounded up.
    assert steps_brax_runs(400_000, config.ppo) == 9 * 3 * per_training_step == 442_368
    assert steps_brax_runs(442_368, config.ppo) == 442_368  # already whole: unchanged (a resume's rest)
    assert steps_brax_runs(4_000_000, config.ppo) == 4_128_768
    assert steps_brax_runs(0, config.ppo) == 0


# ---- the success check during training (docs/CHECKS.md) ----------------------------------------------
ALWAYS_INSIDE = '''"""The cart stays within 100 m: true of any policy, so the check passes at once."""

AT_MOST = dict(travel=100.0)


def travel(s):
    return jnp.max(jnp.abs(s.cart_position))


def upright(s):
    return jnp.mean(jnp.abs(s.pole_angle) < 0.31)
'''
NEVER = ALWAYS_INSIDE.replace("AT_MOST = dict(travel=100.0)", "AT_LEAST = dict(upright=1.5)")


def _train(spec: JobSpec, cache: Path, work: Path) -> tuple[PolicyManifest, list[TrainingProgress]]:
    from server.training.runner import train

    reports: list[TrainingProgress] = []
    return train(spec, scene_cache_dir=cache, work_dir=work, report=reports.append), reports


def test_a_passing_check_stops_the_job_early(
    trained: tuple[Path, PolicyManifest, list[TrainingProgress]],
    cache: Path,
    tmp_path: Path,
) -> None:
    """A fine-tune whose base already passes stops at its first evaluation (step 0), without waiting for
    the early-stop streak (two passing evaluations by default): the base is kept as it is."""
    from server.training.runner import train

    spec = quick(check=ALWAYS_INSIDE, base_policy_id=trained[1].policy_id)
    assert spec.early_stop_evals == 2
    reports: list[TrainingProgress] = []
    manifest = train(
        spec,
        scene_cache_dir=cache,
        work_dir=tmp_path,
        report=reports.append,
        base_params_dir=trained[0] / "policy",
    )
    assert len(reports) == 1 and reports[0].step == 0  # stopped after the first evaluation
    check = reports[0].check
    assert check is not None and check.passed and check.episodes == CHECK_EPISODES == 10
    assert [f.name for f in check.figures] == ["travel", "upright"]
    # It stopped because the base also passed on starts no evaluation saw, the verdict the job reports.
    confirmation = reports[0].confirmation
    assert confirmation is not None and confirmation.passed
    assert confirmation.episodes == CHECK_EPISODES * CONFIRM_BATCHES
    assert manifest.outcome is not None and manifest.outcome.stop_reason == "check_passed"
    assert manifest.outcome.stopped_early and manifest.check == ALWAYS_INSIDE
    assert manifest.outcome.check == confirmation
    # Fine-tunes take gentler steps than the preset's (the critic has yet to learn the new reward).
    assert manifest.training_config["learning_rate"] == pytest.approx(3e-4 / 3)


def test_a_check_that_passes_only_on_its_evaluations_starts_trains_on(
    trained: tuple[Path, PolicyManifest, list[TrainingProgress]],
    cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same fine-tune, its base passing the evaluation but (scripted here: no real policy fails
    unseen starts on cue) failing the starts no evaluation saw: it does not stop, and says why."""
    from server.training.evaluation import Evaluator
    from server.training.runner import train

    real_confirm = Evaluator.confirm

    def fails_elsewhere(self: Evaluator, params: object) -> object:
        verdict = real_confirm(self, params)
        assert verdict is not None
        return msgspec.structs.replace(verdict, passed=False, passed_episodes=verdict.episodes - 1)

    monkeypatch.setattr(Evaluator, "confirm", fails_elsewhere)
    spec = quick(check=ALWAYS_INSIDE, base_policy_id=trained[1].policy_id)
    reports: list[TrainingProgress] = []
    manifest = train(
        spec, scene_cache_dir=cache, work_dir=tmp_path, report=reports.append,
        base_params_dir=trained[0] / "policy",
    )  # fmt: skip
    assert reports[0].step == 0 and reports[0].confirmation is not None
    assert not reports[0].confirmation.passed
    assert reports[-1].step == reports[-1].total_steps  # trained on to the end of its budget
    assert manifest.outcome is not None and manifest.outcome.check is not None
    assert manifest.outcome.kept_step > 0  # the base ranks as failing now: a passing evaluation replaced it
    assert manifest.outcome.stop_reason == "completed"
    # The verdict the job reports is the kept policy's on new starts (scripted to fail), judged again.
    assert not manifest.outcome.check.passed


def test_a_failing_check_still_saves_its_best_marked_failed(cache: Path, tmp_path: Path) -> None:
    manifest, reports = _train(quick(check=NEVER), cache, tmp_path)
    # Judged at every evaluation, the untrained params' at step 0 included.
    assert len(reports) == 2 and all(r.check is not None and not r.check.passed for r in reports)
    assert manifest.outcome is not None and manifest.outcome.check is not None
    assert not manifest.outcome.check.passed and manifest.outcome.stop_reason == "completed"
    # Every figure is listed; the unmet requirement carries its bound and worst episode.
    confirmed = CHECK_EPISODES * CONFIRM_BATCHES
    assert re.match(
        rf"failed: travel [\d.]+, upright [\d.]+ \(>= 1\.5, worst [\d.]+\) in 0/{confirmed}",
        manifest.outcome.check.summary,
    )
    # The saved verdict is the kept policy's on starts no evaluation saw, not the kept evaluation's own.
    kept = next(p for p in reports if p.step == manifest.outcome.kept_step)
    assert kept.check is not None and kept.check.episodes == CHECK_EPISODES
    assert manifest.outcome.check.episodes == confirmed
    assert (tmp_path / "policy" / "params.msgpack").is_file()


def test_an_invalid_check_fails_the_job_with_its_located_error(cache: Path, tmp_path: Path) -> None:
    from server.training.runner import TrainingFailed

    with pytest.raises(TrainingFailed, match=r"success check was rejected: line 2: figure `x` reads nothing"):
        _train(quick(check="AT_LEAST = dict(x=1)\ndef x(s):\n    return 1.0\n"), cache, tmp_path)


def test_the_check_judges_new_initial_states_at_each_evaluation(
    trained: tuple[Path, PolicyManifest, list[TrainingProgress]], cache: Path
) -> None:
    """Each evaluation's rollouts start elsewhere (drawn from the seed and the step), so two passing
    evaluations in a row are not the same starts seen twice; the same step draws the same starts, and the
    check's episodes are the same however many episodes the evaluation plays for its eval reward (so a
    saved policy's verdict can be judged again without knowing its preset)."""
    import dataclasses

    from brax.training.agents.ppo import networks as ppo_networks

    from server.checks.evaluate import compile_check
    from server.policies.networks import make_networks
    from server.policies.params import load_policy
    from server.rewards.compile import compile_program
    from server.rewards.vocabulary import build_entries
    from server.training.evaluation import Evaluator
    from server.training.runner import load_scene

    manifest, params = load_policy(trained[0] / "policy")
    scene = dataclasses.replace(load_scene("CartpoleBalance", cache), episode_length=20)
    entries = build_entries("CartpoleBalance", scene.env)
    check = compile_check(
        "AT_MOST = dict(travel=100.0)\n\n\ndef travel(s):\n    return jnp.max(jnp.abs(s.cart_position))\n\n\n"
        "def start(s):\n    return s.cart_position[0]\n",
        entries,
        20,
    )

    def evaluator(episodes: int) -> Evaluator:
        act = ppo_networks.make_inference_fn(make_networks(manifest))
        return Evaluator(scene, compile_program(PROGRAM, entries), check, act, episodes=episodes, seed=0)

    ten, twelve = evaluator(CHECK_EPISODES), evaluator(CHECK_EPISODES + 2)

    def starts(judge: Evaluator, step: int) -> float:
        _, verdict = judge.evaluate(params, step)
        assert verdict is not None and verdict.episodes == CHECK_EPISODES
        return next(f.mean for f in verdict.figures if f.name == "start")

    assert starts(ten, 0) != starts(ten, 458_752)
    assert starts(ten, 458_752) == starts(ten, 458_752) == starts(twelve, 458_752)


def test_a_jobs_clip_is_the_clip_rollout_of_its_kept_policy(
    trained: tuple[Path, PolicyManifest, list[TrainingProgress]], cache: Path
) -> None:
    """A job draws its clip from its evaluation rollouts (no rollout of its own to compile): the same start
    and the same states as the clip's own rollout of the saved policy (server/policies/clip.py)."""
    import dataclasses

    from brax.training.agents.ppo import networks as ppo_networks

    from server.policies.clip import rollout
    from server.policies.networks import make_networks
    from server.policies.params import load_policy
    from server.rewards.compile import compile_program
    from server.rewards.vocabulary import build_entries
    from server.training.evaluation import Evaluator
    from server.training.runner import load_scene

    manifest, params = load_policy(trained[0] / "policy")
    scene = dataclasses.replace(load_scene("CartpoleBalance", cache), episode_length=30)  # cheap to run
    entries = build_entries("CartpoleBalance", scene.env)
    act = ppo_networks.make_inference_fn(make_networks(manifest))
    evaluator = Evaluator(scene, compile_program(PROGRAM, entries), None, act, episodes=4, seed=0)
    from_evaluation = evaluator.clip_states(params)
    own = rollout(scene.env, manifest, params, 30)
    assert set(from_evaluation) == set(own) and from_evaluation["qpos"].shape == own["qpos"].shape == (31, 2)
    for key in own:
        np.testing.assert_allclose(from_evaluation[key], own[key], rtol=1e-5, atol=1e-6, err_msg=key)
    assert np.ptp(own["qpos"][:, 0]) > 0  # the cart moved: the states are a rollout, not a held start
