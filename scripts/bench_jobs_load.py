"""Load benchmark: N training jobs submitted at once through the API (default 200).

What runs: the Modal backend with a FAKE remote (tests/training/fake_remote.py) that executes the real
remote function body, i.e. the real training function (Brax PPO on CartpoleBalance, preset cpu_quick,
512 steps), in 2 local processes; the Volume is a local folder. With --scripted the remote writes a
policy without training (0.3 s), to load the queue/API/backend rather than the CPU.
Halfway through, the server is stopped and started again on the same database while the "remote" calls
go on; the new server reattaches to them.
Prints submit time, time until every job is final, final states, and the latency of other API calls.

    .venv/bin/python scripts/bench_jobs_load.py --jobs 200
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.training.load_harness import run_load


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="fake remote processes (the CPU cores)")
    parser.add_argument("--capacity", type=int, default=100, help="Modal max concurrent calls")
    parser.add_argument(
        "--scripted",
        action="store_true",
        help="the fake remote writes a policy without JAX (~0.3 s a job) instead of really training",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        result = run_load(
            Path(tmp), jobs=args.jobs, workers=args.workers, capacity=args.capacity, real=not args.scripted
        )
    print(result.summary())
    return 0 if result.states == {"succeeded": args.jobs} else 1


if __name__ == "__main__":
    sys.exit(main())
