"""storyboard: turn a film written as YAML into a finished video.

The public Python API; the command line is a thin layer over it.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
