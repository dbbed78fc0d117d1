"""Which MJX implementation training asks for: "jax" on the CPU, Playground's own choice on a GPU, and the
ROBOCOACH_MJX_IMPL override (which the local backend passes through to its workers)."""

from __future__ import annotations

import pytest

from server.training.backends import GPU_ENV
from server.training.runner import MJX_IMPL_ENV, training_impl


def test_cpu_uses_jax_and_gpu_keeps_playgrounds_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MJX_IMPL_ENV, raising=False)
    assert training_impl("cpu") == "jax"
    assert training_impl("gpu") is None


@pytest.mark.parametrize(
    ("value", "cpu", "gpu"), [("warp", "warp", "warp"), (" JAX ", "jax", "jax"), ("x", "jax", None)]
)
def test_the_override_wins_when_it_names_an_implementation(
    monkeypatch: pytest.MonkeyPatch, value: str, cpu: str, gpu: str | None
) -> None:
    monkeypatch.setenv(MJX_IMPL_ENV, value)
    assert (training_impl("cpu"), training_impl("gpu")) == (cpu, gpu)
    assert MJX_IMPL_ENV in GPU_ENV
