"""Stages 6-7, requests to a film: the build narrator, execute, finish.

- :mod:`~storyboard.build.pipeline`: ``build()`` and ``prepare()``, which read top to bottom
  like the pipeline: check, compile, plan, execute, write the outputs, cut;
- :mod:`~storyboard.build.execute`: run the takes on a backend in dependency order, never
  paying twice (stage 6);
- :mod:`~storyboard.build.finish`: the cut, the build record, the exports and the contact
  sheet, after the takes (stage 7);
- :mod:`~storyboard.build.state`: what a project keeps between builds: the cache, the lock
  file, the journal, the build folder's owned files, safe file access;
- :mod:`~storyboard.build.clean` and :mod:`~storyboard.build.doctor`: ``storyboard clean``
  and ``storyboard doctor``.
"""
