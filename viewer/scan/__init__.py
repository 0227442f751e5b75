"""Finding key material in dumps: finding kinds, detectors, the scan engine, key material, entropy, key
identity and matching.

Never imports Qt. Long work takes a :class:`viewer.tasks.TaskState` for progress and cancel.
"""
