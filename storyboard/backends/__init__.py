"""Backends: where a compiled request becomes a finished video.

``base`` holds the interface the executor knows; ``preview`` renders animatics offline;
``runware`` is the client of the Runware API that the Runware backend is built on.
"""
