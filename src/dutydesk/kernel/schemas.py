"""Pydantic building blocks shared by every domain's schemas."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Text = Annotated[str, StringConstraints(max_length=32_000), AfterValidator(_no_nul)]
Line = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    AfterValidator(_no_nul),
    AfterValidator(_not_blank),
]
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=120),
    AfterValidator(_no_nul),
    AfterValidator(_not_blank),
]
Short = Annotated[str, StringConstraints(max_length=500), AfterValidator(_no_nul)]


class Input(BaseModel):
    """Request bodies: unknown or read-only fields are refused, never ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)
