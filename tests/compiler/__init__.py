"""Tests of the compiler: resolve, compile, keys, origins, warnings."""
