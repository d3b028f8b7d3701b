"""Tests of what a project keeps between builds (lock file, journal)."""
