"""Which MJX implementation each loader of a scene asks for (server/scenes/loader.py, `physics_impl`):
training: "jax" on the CPU, Playground's own choice on a GPU, and the ROBOCOACH_MJX_IMPL override (which
the local backend passes through to its workers); export, trace check and playback: always "jax"."""

from __future__ import annotations

import pytest

from server.sandbox.environment import DEVICE_VARS as GPU_ENV
from server.scenes.loader import MJX_IMPL_ENV, Purpose, physics_impl


def test_cpu_uses_jax_and_gpu_keeps_playgrounds_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MJX_IMPL_ENV, raising=False)
    assert physics_impl("train", "cpu") == "jax"
    assert physics_impl("train", "gpu") is None


@pytest.mark.parametrize(
    ("value", "cpu", "gpu"), [("warp", "warp", "warp"), (" JAX ", "jax", "jax"), ("x", "jax", None)]
)
def test_the_override_wins_when_it_names_an_implementation(
    monkeypatch: pytest.MonkeyPatch, value: str, cpu: str, gpu: str | None
) -> None:
    monkeypatch.setenv(MJX_IMPL_ENV, value)
    assert (physics_impl("train", "cpu"), physics_impl("train", "gpu")) == (cpu, gpu)
    assert MJX_IMPL_ENV in GPU_ENV


@pytest.mark.parametrize("value", ["", "warp"])
@pytest.mark.parametrize("purpose", ["export", "check", "playback"])
def test_export_check_and_playback_always_load_jax(
    monkeypatch: pytest.MonkeyPatch, value: str, purpose: Purpose
) -> None:
    # Their workers run JAX on the CPU, where warp cannot run; the override is for training only.
    monkeypatch.setenv(MJX_IMPL_ENV, value)
    assert physics_impl(purpose, "gpu") == physics_impl(purpose, "cpu") == "jax"
