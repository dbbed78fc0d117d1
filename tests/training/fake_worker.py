"""A stand-in for `server.training.worker` that follows its protocol in milliseconds, no JAX.

Behaviour comes from words in the spec's task_description or name:
`steps=N` evaluations (default 3), `sleep=S` seconds between them, `outcome=succeed|fail|crash|hang|truncate`
(crash: exit 3 without a final event; hang: sleep forever after the progress; truncate: announce success
but leave params shorter than the manifest says), `check=pass|fail` (a job with a check: every evaluation
judged so, the kept one being the last), as the real runner does it writes `best/` after each evaluation,
and `live/` (the newest params, with the history so far) at its start and after each evaluation, before that
evaluation's progress line.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from server.checks.types import CheckResult, TrainingOutcome
from server.checks.verdict import judge
from server.files import write_atomic
from server.policies.manifest import NetworkConfig, PolicyManifest
from server.sandbox.confine import ignore_stop_signals
from server.training.types import JobSpec, TrainingProgress


class _Job(msgspec.Struct):
    spec: JobSpec
    scene_cache_dir: str
    resume: bool
    base_params_dir: str | None


def _options(task: str) -> dict[str, str]:
    return dict(word.split("=", 1) for word in task.split() if "=" in word)


def manifest_for(
    spec: JobSpec, params: bytes, history: list[TrainingProgress], reason: str = "completed"
) -> PolicyManifest:
    last = history[-1] if history else None
    outcome = (
        TrainingOutcome(
            kept_step=last.step,
            kept_eval_reward=last.eval_reward,
            check=last.check,
            stop_reason=reason,  # type: ignore[arg-type]
            stopped_early=reason != "completed",
        )
        if last is not None
        else None
    )
    return PolicyManifest(
        policy_id="fake",
        name=spec.name or "fake policy",
        scene_id=spec.scene_id,
        task_description=spec.task_description,
        program=spec.program,
        network=NetworkConfig(
            policy_hidden_layer_sizes=[4],
            value_hidden_layer_sizes=[4],
            normalize_observations=True,
            policy_obs_key="state",
            value_obs_key="state",
        ),
        observation_size={"state": [5]},
        action_size=1,
        ctrl_dt=0.01,
        training_config={"num_timesteps": 100},
        metrics_history=history,
        final_eval_reward=history[-1].eval_reward if history else None,
        created_at=datetime.now(UTC),
        versions={"fake": "1"},
        job_id=None,
        base_policy_id=spec.base_policy_id,
        params_sha256=hashlib.sha256(params).hexdigest(),
        check=spec.check,
        outcome=outcome,
    )


def _check(verdict: str | None) -> CheckResult | None:
    if verdict is None:
        return None
    value = 0.99 if verdict == "pass" else 0.4
    return judge({"upright": [value] * 5}, {"upright": 0.95}, {})


def write_policy(folder: Path, manifest: PolicyManifest, params: bytes) -> None:
    write_atomic(folder / "params.msgpack", params)
    write_atomic(folder / "manifest.json", msgspec.json.encode(manifest))


def main(job_dir: Path) -> int:
    ignore_stop_signals()
    job = msgspec.json.decode((job_dir / "job.json").read_bytes(), type=_Job)
    options = _options(f"{job.spec.task_description} {job.spec.name}")
    steps, pause = int(options.get("steps", "3")), float(options.get("sleep", "0"))
    outcome = options.get("outcome", "succeed")
    (job_dir / "env.json").write_text(json.dumps(sorted(os.environ)))  # tests read what reached us
    (job_dir / "job_seen.json").write_bytes((job_dir / "job.json").read_bytes())
    events = (job_dir / "events.jsonl").open("ab")
    start = 0
    if job.resume and (job_dir / "checkpoint.json").exists():
        start = json.loads((job_dir / "checkpoint.json").read_text())["evaluation"] + 1
    history: list[TrainingProgress] = []
    live = b"params:untrained"
    write_policy(job_dir / "live", manifest_for(job.spec, live, history), live)
    for i in range(start, steps):
        progress = TrainingProgress(
            step=i * 10, total_steps=(steps - 1) * 10, eval_reward=float(i),
            reward_terms={"upright": float(i)}, task_reward=None, steps_per_second=100.0,
            elapsed_s=0.1 * i, eta_s=0.0, check=_check(options.get("check")),
        )  # fmt: skip
        history.append(progress)
        best = b"params:" + job.spec.program.encode()
        write_policy(job_dir / "best", manifest_for(job.spec, best, history, "stopped"), best)
        live = f"params:evaluation {i}".encode()
        write_policy(job_dir / "live", manifest_for(job.spec, live, history), live)
        events.write(msgspec.json.encode({"type": "progress", "progress": progress}) + b"\n")
        events.flush()
        tmp = job_dir / "checkpoint.json.tmp"
        tmp.write_text(json.dumps({"evaluation": i}))
        tmp.replace(job_dir / "checkpoint.json")
        time.sleep(pause)
    if outcome == "hang":
        time.sleep(3600)
    if outcome == "crash":
        return 3
    if outcome == "fail":
        events.write(b'{"type":"failed","error":"reward term upright produced NaN"}\n')
        events.flush()
        return 1
    params = b"params:" + job.spec.program.encode()
    manifest = manifest_for(job.spec, params, history)
    policy = job_dir / "policy"
    policy.mkdir(exist_ok=True)
    (policy / "params.msgpack").write_bytes(params[:-3] if outcome == "truncate" else params)
    (policy / "manifest.json").write_bytes(msgspec.json.encode(manifest))
    events.write(msgspec.json.encode({"type": "succeeded", "manifest": manifest}) + b"\n")
    events.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
