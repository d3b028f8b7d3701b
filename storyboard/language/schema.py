"""JSON Schemas generated from the models, so editors can complete and check storyboards.

``schemas/storyboard.schema.json`` (storyboards) and ``schemas/include.schema.json`` (files
named in ``include``) are committed; a test fails when they differ from what this module
generates (``make schema`` rewrites them).
"""

from __future__ import annotations

import json
from typing import Any

from storyboard.language.model import IncludeFile, Storyboard

# Editors' YAML language servers support draft-07 best; our schema uses nothing newer
# ($defs references resolve as JSON pointers either way).
SCHEMA_DIALECT = "http://json-schema.org/draft-07/schema#"


def storyboard_schema(*, include_file: bool = False) -> dict[str, Any]:
    """The JSON Schema of a storyboard (or of an included file)."""
    model = IncludeFile if include_file else Storyboard
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": SCHEMA_DIALECT, **{k: v for k, v in schema.items() if k != "$schema"}}


def schema_text(*, include_file: bool = False) -> str:
    """The schema as the committed file holds it: sorted keys, two-space indent, newline."""
    return json.dumps(storyboard_schema(include_file=include_file), indent=2, sort_keys=True) + "\n"
