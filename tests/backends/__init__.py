"""Tests of the backends: the Runware client (against fakes and the emulator), namespaces."""
