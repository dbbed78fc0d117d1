"""A stand-in for the UI's playback driver: MuJoCo's C library stepping one control interval the way the
browser does (docs/INFERENCE_PROTOCOL.md). Used by the API tests and scripts/bench_inference.py."""

from __future__ import annotations

import mujoco

from server.inference.protocol import Action, Episode, Hello, PhysicsState, Step, from_bytes, to_bytes


class Browser:
    """What the UI does each control interval, with MuJoCo's C library instead of its WebAssembly build."""

    def __init__(self, model: mujoco.MjModel, hello: Hello) -> None:
        self.model, self.hello = model, hello
        self.data = mujoco.MjData(model)

    def state(self) -> PhysicsState:
        d = self.data
        return PhysicsState(
            qpos=to_bytes(d.qpos),
            qvel=to_bytes(d.qvel),
            act=to_bytes(d.act),
            time=float(d.time),
            qacc_warmstart=to_bytes(d.qacc_warmstart),
        )

    def start(self, episode: Episode) -> None:
        h, d = self.hello, self.data
        d.qpos[:] = from_bytes(episode.qpos, h.nq, "qpos")
        d.qvel[:] = from_bytes(episode.qvel, h.nv, "qvel")
        d.time = episode.time
        d.ctrl[:] = from_bytes(episode.ctrl, h.nu, "ctrl")
        mujoco.mj_forward(self.model, d)

    def interval(self, seq: int) -> Step:
        for _ in range(self.hello.substeps - 1):
            mujoco.mj_step(self.model, self.data)
        before = self.state()
        mujoco.mj_step(self.model, self.data)
        return Step(seq=seq, before=before, after=self.state())

    def apply(self, action: Action) -> None:
        self.data.ctrl[:] = from_bytes(action.ctrl, self.hello.nu, "ctrl")
