"""Tests of the Runware client."""
