"""API shapes of users, tokens, groups, customers and sign-in."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from dutydesk.access.policy import Role
from dutydesk.kernel.schemas import Input, Name, Output, Short, Text


class LoginRequest(Input):
    login: Name = Field(description="User name or e-mail address")
    password: str = Field(min_length=1, max_length=1000)


class LoginResponse(Output):
    token: str
    token_id: int
    username: str
    role: str


class UserCreate(Input):
    username: Name
    email: Name
    role: Role
    full_name: Short = ""
    password: str | None = Field(None, min_length=10, max_length=1000)
    customer_id: int | None = None


class UserPatch(Input):
    role: Role | None = None
    is_active: Literal[False] | None = Field(None, description="false disables the user")
    is_available: bool | None = None
    password: str | None = Field(None, min_length=10, max_length=1000)


class UserRead(Output):
    id: int
    username: str
    email: str
    full_name: str
    role: str
    customer_id: int | None
    is_active: bool
    is_available: bool
    created_at: datetime


class TokenCreate(Input):
    name: Name
    scope: Literal["read", "write"] = "write"
    user_id: int | None = Field(None, description="Admins may create tokens for others")


class TokenRead(Output):
    id: int
    user_id: int
    name: str
    prefix: str
    scope: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="Shown once; only its hash is stored")


class GroupCreate(Input):
    name: Name
    tier: Literal["l1", "l2", "l3", "supplier"]
    description: Text = ""
    email: Short | None = None
    manager_id: int | None = None


class GroupPatch(Input):
    tier: Literal["l1", "l2", "l3", "supplier"] | None = None
    description: Text | None = None
    manager_id: int | None = None


class GroupRead(Output):
    id: int
    name: str
    tier: str
    description: str
    email: str | None
    manager_id: int | None
    member_ids: list[int] = []


class CustomerCreate(Input):
    name: Name
    description: Text = ""
    share_incidents: bool = False


class CustomerPatch(Input):
    description: Text | None = None
    share_incidents: bool | None = None
    is_active: bool | None = None


class CustomerRead(Output):
    id: int
    name: str
    description: str
    share_incidents: bool
    is_active: bool
