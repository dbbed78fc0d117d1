"""The GPU probe worker: `python -m server.training.probe` prints, as one JSON line, the device kind of
every CUDA device JAX sees (`[]` when none). `server.training.backends.probe_device` starts it (through
`server.workers.worker_argv`, so it also runs from the frozen app) and reads that line, so the API process
never imports JAX."""

from __future__ import annotations

import json


def main() -> None:
    import jax

    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    print(json.dumps([getattr(d, "device_kind", str(d)) for d in gpus]), flush=True)


if __name__ == "__main__":
    main()
