import mujoco, numpy as np
xml = '''<mujoco model="fixture">
  <option timestep="0.002" gravity="0 0 -9.81"/>
  <worldbody>
    <geom name="floor" type="plane" size="5 5 0.1" rgba="0.8 0.8 0.8 1"/>
    <body name="box" pos="0 0 1">
      <freejoint name="root"/>
      <geom name="box_geom" type="box" size="0.1 0.1 0.1" mass="2" rgba="1 0 0 1"/>
    </body>
    <body name="pole" pos="1 0 0.5">
      <joint name="hinge" type="hinge" axis="0 1 0"/>
      <geom type="capsule" fromto="0 0 0 0 0 0.5" size="0.02" mass="0.5"/>
    </body>
  </worldbody>
  <keyframe>
    <key name="lifted" qpos="0.5 0 2 1 0 0 0 0.3"/>
  </keyframe>
</mujoco>'''
m = mujoco.MjModel.from_xml_string(xml)
buf = np.zeros(mujoco.mj_sizeModel(m), dtype=np.uint8)
mujoco.mj_saveModel(m, None, buf)
open('fixture.mjb', 'wb').write(buf.tobytes())
print(len(buf))
