"""Benchmarks of storyboard against baselines run in the same process: ``python -m bench.run``."""
