"""``made_of_defaults``: a model at its defaults, made without its validator, is the model
its validator makes from nothing; it is only for models it can stand in for."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from storyboard.language.model import Cut, Defaults, Delivery, Output, made_of_defaults


@pytest.mark.parametrize("model", [Output, Delivery, Defaults, Cut])
def test_a_model_made_of_defaults_is_the_one_validation_makes(model: type[BaseModel]) -> None:
    made, validated = made_of_defaults(model), model()
    assert made == validated
    assert made.model_fields_set == validated.model_fields_set == set()
    assert made.model_dump() == validated.model_dump()
    # what lets it stand in: nothing is checked of the whole, every field has a default
    assert not model.__pydantic_decorators__.model_validators
    assert all(not field.is_required() for field in model.model_fields.values())
