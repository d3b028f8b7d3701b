"""The command line: a thin layer over :mod:`storyboard.api`."""
