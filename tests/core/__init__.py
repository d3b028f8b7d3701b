"""Tests of the layer below everything: inputs, diagnostics."""
