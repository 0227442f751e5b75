"""Finding key material in dumps: detectors, the scan engine, entropy, key identity and matching.

Never imports Qt. Long work takes a state object for progress and cancel (see engine.ScanState).
"""
