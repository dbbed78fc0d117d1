"""Try each way out of a confined worker and say what happened: `python -m server.sandbox.probe`.

Run by hand, it confines itself as a training worker would (with a temporary job folder) and prints, for
this machine's kernel, which escapes are blocked. The isolation tests run the same attempts inside real
workers (the trace worker's test hooks) and from this module with each worker's own confinement.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import msgspec

from server.sandbox.escape import Attempt, attempt


def run(role: str, folders: list[Path], attempts: list[Attempt]) -> dict[str, str]:
    """Confine this process as the worker `role` ("trace", "training", "inference") with its folders,
    then make each attempt; keys are `action target`."""
    from server.sandbox.confine import confine

    if role == "trace":
        from server.rewards.trace_worker import confinement as trace_confinement

        confinement = trace_confinement(*folders)
    elif role == "training":
        from server.training.worker import confinement as training_confinement

        confinement = training_confinement(folders[0])
    elif role == "inference":
        from server.inference.worker import confinement as inference_confinement

        confinement = inference_confinement(*folders)
    else:
        raise ValueError(f"unknown role {role!r}")
    confine(confinement)
    return {f"{a.action} {a.target}": attempt(a.action, a.target) for a in attempts}


def main(argv: list[str]) -> int:
    """`probe` alone: as a training worker on this machine. `probe ROLE FOLDER... -- ATTEMPTS_JSON`: tests."""
    if not argv:
        job = Path(tempfile.mkdtemp(prefix="robocoach-probe-"))
        attempts = [
            Attempt("read", f"/proc/{os.getppid()}/environ"),
            Attempt("read", str(Path.home() / ".local" / "share" / "robocoach" / "llm_keys.json")),
            Attempt("write", str(Path.home() / "robocoach-probe-escape")),
            Attempt("write", str(job / "allowed.txt")),
            Attempt("connect", "80"),
            Attempt("signal", str(os.getppid())),
        ]
        results = run("training", [job], attempts)
    else:
        split = argv.index("--")
        attempts = msgspec.json.decode(argv[split + 1], type=list[Attempt])
        results = run(argv[0], [Path(p) for p in argv[1:split]], attempts)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
