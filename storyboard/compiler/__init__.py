"""Stages 4-5, shots to requests: resolve -> compile, then what a build would do.

- :mod:`~storyboard.compiler.resolve`: pack shots into takes (one generation request each)
  and find the hand-offs between them; :mod:`~storyboard.compiler.graph` is their DAG;
- :mod:`~storyboard.compiler.compile`: each take -> its exact ``videoInference`` request,
  checked against the model's profile (:mod:`storyboard.profiles`);
- :mod:`~storyboard.compiler.fit`: whether the cut and the hand-offs fit the takes' lengths,
  before anything is paid; :mod:`~storyboard.compiler.advice`: the warnings a writer needs;
- :mod:`~storyboard.compiler.keys`: each take's key, the hash of what decides its video;
- :mod:`~storyboard.compiler.plan`: what a build would generate and cost (sends nothing);
  :mod:`~storyboard.compiler.select`: ``--select`` selectors;
- :mod:`~storyboard.compiler.origins`: the storyboard value a request field came from;
- :mod:`~storyboard.compiler.draw` and :mod:`~storyboard.compiler.depfile`: the graph as
  Mermaid or dot, and ``storyboard deps``' make dependency file.

Pure and deterministic: nothing here sends a request or writes the build folder.
"""
