"""Test kit shipped with storyboard: a pytest plugin serving the Runware emulator.

Use it from a conftest with ``pytest_plugins = ["storyboard.testing.plugin"]`` (top-level
conftest only) or import its fixtures (``from storyboard.testing.plugin import emulator,
emulator_server``). Users can run their own CI against the same fixture.
"""
