"""Stages 1-3, the file a writer edits: load -> validate -> render prompts.

- :mod:`~storyboard.language.load`: YAML with the line and column of every key and value,
  includes merged, hostile input bounded (stage 1);
- :mod:`~storyboard.language.model`: the storyboard language, version 1, as pydantic models,
  the source of truth of ``schemas/``; :mod:`~storyboard.language.schema` exports them;
- :mod:`~storyboard.language.validate`: every key, type, range and rule across the document,
  all errors at once (stage 2), giving a :class:`~storyboard.language.checked.CheckedStoryboard`;
- :mod:`~storyboard.language.prompts`: each prompt as a Jinja2 template in a bounded sandbox
  (stage 3);
- :mod:`~storyboard.language.sources`: what a source string names (a frame, a shot, media);
- :mod:`~storyboard.language.fmt`: ``storyboard fmt``, the canonical layout, comments kept.

Nothing here touches the network or the build folder.
"""
