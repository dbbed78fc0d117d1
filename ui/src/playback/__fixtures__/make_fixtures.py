"""Writes the playback test fixtures into OUT_DIR (default: this folder), byte for byte the same on every run:

    .venv/bin/python ui/src/playback/__fixtures__/make_fixtures.py [OUT_DIR]

scripts/test.sh writes them to a scratch folder and fails when they differ from the committed ones.

- `actuated.mjb`: a small model with actuators, an activation and a mocap body (MuJoCo 3.14.0 MJB).
- `frames.json`: protocol frames written by the server's own encoder (server/inference/protocol.py),
  as hex, with the values they hold, for byte-level checks of ui/src/playback/protocol.ts.
"""

import json
import sys
from pathlib import Path

import mujoco
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))
from server.inference import protocol as p  # noqa: E402

XML = """<mujoco model="actuated">
  <option timestep="0.004" gravity="0 0 -9.81"/>
  <worldbody>
    <geom name="floor" type="plane" size="5 5 0.1"/>
    <body name="box" pos="0 0 0.5">
      <freejoint name="root"/>
      <geom name="box_geom" type="box" size="0.1 0.1 0.1" mass="2"/>
    </body>
    <body name="pole" pos="1 0 0.5">
      <joint name="hinge" type="hinge" axis="0 1 0" damping="0.05"/>
      <geom type="capsule" fromto="0 0 0 0 0 0.5" size="0.02" mass="0.5"/>
    </body>
    <body name="target" mocap="true" pos="0 1 1">
      <geom type="sphere" size="0.05" contype="0" conaffinity="0"/>
    </body>
  </worldbody>
  <actuator>
    <motor name="torque" joint="hinge" gear="2" ctrlrange="-1 1"/>
    <general name="filtered" joint="hinge" dyntype="filter" dynprm="0.05" gainprm="1" ctrlrange="-1 1"/>
  </actuator>
</mujoco>"""


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    m = mujoco.MjModel.from_xml_string(XML)
    buf = np.zeros(mujoco.mj_sizeModel(m), dtype=np.uint8)
    mujoco.mj_saveModel(m, None, buf)
    (out / "actuated.mjb").write_bytes(buf.tobytes())

    f = p.to_bytes
    before = p.PhysicsState(
        qpos=f(np.array([0.5, -1.25, 3.0])), qvel=f(np.array([0.1])), time=0.125, qacc_warmstart=f(np.array([-9.5]))
    )
    after = p.PhysicsState(
        qpos=f(np.array([0.5, -1.5, 3.0])), qvel=f(np.array([-0.2])), act=f(np.array([0.75])), time=0.25
    )
    messages = {
        "step": p.Step(seq=300, before=before, after=after),
        "reset": p.Reset(seed=7),
        "reset_state": p.Reset(seed=1, state=after),
        "command": p.SetCommand(values=[0.5, -0.25, 1.5]),
        "hello": p.Hello(
            version=1, policy_id="pol-1", scene_id="Go1JoystickFlatTerrain", ctrl_dt=0.02, timestep=0.004,
            substeps=5, nq=8, nv=7, na=1, nu=2, nmocap=1, send=["qpos", "qvel", "act", "time", "qacc_warmstart"],
            reward_terms=["up", "effort"], weights=[1.0, -0.01], episode_length=1000,
            command=p.CommandSpec(names=["x", "y", "yaw"], low=[-1.0, -0.5, -1.5], high=[1.0, 0.5, 1.5]),
        ),
        "episode": p.Episode(
            qpos=f(np.arange(8) / 8), qvel=f(np.zeros(7)), act=f(np.array([0.5])), time=0.0,
            mocap_pos=f(np.array([0.0, 1.0, 1.5])), mocap_quat=f(np.array([1.0, 0, 0, 0])),
            ctrl=f(np.array([0.25, -0.5])), command=[0.5, 0.0, 0.0],
        ),
        "action": p.Action(
            seq=3, ctrl=f(np.array([-1.0, 1e-300])), reward=1.5, terms=[0.75, 3.0], task_reward=0.9,
            episode_return=6.25, step=4, done=False, command=None,
        ),
        "error": p.Error(code="bad_state", message="qpos has 3 bytes", seq=12),
        "status": p.Status(phase="compiling", message="Compiling policy"),
        "policy": p.PolicyUpdate(
            job_id="job-1", step=40960, total_steps=300000, evaluation=3, eval_reward=812.5, check_passed=False,
            check_score=0.75, note="checkpoint at step 49152 skipped: NaN in the params",
        ),
    }
    frames = {name: p.encode(msg).hex() for name, msg in messages.items()}
    (out / "frames.json").write_text(json.dumps(frames, indent=2) + "\n")
    print(len(buf), "bytes of MJB;", len(frames), "frames")


if __name__ == "__main__":
    main()
