"""API shapes of services, configuration items and categories."""

from __future__ import annotations

from typing import Literal

from dutydesk.kernel.schemas import Input, Name, Output, Text


class ServiceCreate(Input):
    name: Name
    description: Text = ""
    customer_id: int | None = None
    owner_group_id: int | None = None


class ServiceRead(Output):
    id: int
    name: str
    description: str
    customer_id: int | None
    owner_group_id: int | None


class CICreate(Input):
    name: Name
    ci_class: Name
    criticality: Literal["low", "medium", "high", "critical"] = "medium"
    service_id: int | None = None
    owner_group_id: int | None = None


class CIRead(Output):
    id: int
    name: str
    ci_class: str
    criticality: str
    service_id: int | None
    owner_group_id: int | None


class CategoryCreate(Input):
    name: Name
    parent_id: int | None = None


class CategoryRead(Output):
    id: int
    name: str
    parent_id: int | None


class ServicePatch(Input):
    description: Text | None = None
    customer_id: int | None = None
    owner_group_id: int | None = None


class CIPatch(Input):
    ci_class: Name | None = None
    criticality: Literal["low", "medium", "high", "critical"] | None = None
    service_id: int | None = None
    owner_group_id: int | None = None
