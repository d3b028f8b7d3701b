"""The layer below everything: what every stage shares, and nothing else.

- :mod:`~storyboard.core.errors`: the exception tree (exit status 1, 2 or 3);
- :mod:`~storyboard.core.diagnostics`: ``FILE:LINE:COL`` positions and the messages a writer
  reads (errors and warnings), escaped for a terminal;
- :mod:`~storyboard.core.events`: typed progress events (the library never prints: the CLI
  renders them);
- :mod:`~storyboard.core.inputs`: reading the text files a storyboard is made of (regular
  files only, never more than a cap);
- :mod:`~storyboard.core.memory`: the C heap's free pages given back to the system, for the
  stages that open many media files.

It imports nothing else of storyboard.
"""
