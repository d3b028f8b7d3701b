"""The writer's loop: ``storyboard watch`` and ``storyboard review``, local pages on loopback.

Place in the pipeline: above it, one layer below the CLI (it imports the API, the build and the
report; the CLI passes in what it owns, such as its console). ``watch`` re-runs check and a
preview build on every save and serves the report; ``review`` serves a page to compare a
build's variations and change the storyboard (``pick``, ``keep``, ``retake``) through
:mod:`storyboard.live.edit`. Both serve on ``127.0.0.1`` only, through
:mod:`storyboard.live.server`, which refuses any other host name, origin or, for ``review``, a
request without the page's random token.
"""
