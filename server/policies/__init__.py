"""The policy store: trained policies on disk, one module per job.

- manifest.py    the manifest (what a policy is), its file names, the one error type, reading a folder
- networks.py    the PPO network factory, used by training and by loading a saved policy
- params.py      params to and from flax msgpack bytes (JAX); saving and loading a policy folder
- checkpoints.py a job's resumable checkpoint (params + progress so far)
- archive.py     the `.robocoach` exchange file: export, and reading an untrusted import
- library.py     `data_dir/policies/<id>/`: list, read, adopt, rename, delete, review; the app's service
- clip.py        a policy's clip: a rollout drawn by MuJoCo in EGL, an animated WebP (JAX; docs/CLIPS.md)
"""
