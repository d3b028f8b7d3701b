"""Model profiles: everything the compiler and the cost estimate know about a video model.

Supporting another model means writing another profile, not changing the compiler.
"""

from __future__ import annotations

from storyboard.profiles.base import DialogueForm, ModelProfile, Size
from storyboard.profiles.kling_o3_pro import KLING_O3_PRO

PROFILES: dict[str, ModelProfile] = {KLING_O3_PRO.model_id: KLING_O3_PRO}

__all__ = ["PROFILES", "DialogueForm", "ModelProfile", "Size", "get_profile"]


def get_profile(model_id: str) -> ModelProfile | None:
    """The profile for ``model_id``, or ``None`` when the model is unknown."""
    return PROFILES.get(model_id)
