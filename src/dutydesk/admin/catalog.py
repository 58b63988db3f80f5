"""Admin sections of the catalog: services, configuration items, categories. Every write is
a `catalog.service` call, the one the admin API (`catalog/api.py`) makes."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.admin.forms import Field, Row, options
from dutydesk.admin.people import body_of, customer_choices, group_choices
from dutydesk.admin.sections import Done, Edit, Section
from dutydesk.catalog import queries, service
from dutydesk.catalog.schemas import CategoryCreate, CICreate, CIPatch, ServiceCreate, ServicePatch
from dutydesk.catalog.service import CRITICALITIES
from dutydesk.kernel.errors import InvalidInput

NONE = "None"


def _names(pairs: list[tuple[str, str]]) -> dict[str, str]:
    return {value: label for value, label in pairs if value}


def _name(names: dict[str, str], id_: int | None) -> str:
    return names.get(str(id_), "") if id_ is not None else ""


# ---------------------------------------------------------------- services


def service_rows(session: Session) -> list[Row]:
    customers = _names(customer_choices(session))
    groups = _names(group_choices(session))
    return [
        Row(
            (
                s.name,
                _name(customers, s.customer_id) or "everyone",
                _name(groups, s.owner_group_id),
                s.description,
            ),
            href=f"/admin/services/{s.id}",
        )
        for s in queries.list_services(session)
    ]


def _service_fields(session: Session) -> list[Field]:
    return [
        Field("description", "Description", "textarea"),
        Field("customer_id", "Offered to", "id", customer_choices(session, "Every customer")),
        Field("owner_group_id", "Owner group", "id", group_choices(session)),
    ]


def service_fields(session: Session) -> list[Field]:
    return [Field("name", "Name", required=True), *_service_fields(session)]


def create_service(session: Session, actor: Actor, body: BaseModel) -> Done:
    data = body_of(body, ServiceCreate)
    found = service.create_service(session, actor, **data.model_dump())
    return Done(f"Service {found.name} was added.")


def edit_service(session: Session, service_id: int) -> Edit:
    found = queries.get_service(session, service_id)
    return Edit(
        heading=f"Service {found.name}",
        fields=_service_fields(session),
        values={
            "description": found.description,
            "customer_id": found.customer_id,
            "owner_group_id": found.owner_group_id,
        },
    )


def update_service(session: Session, actor: Actor, service_id: int, body: BaseModel) -> str:
    changes = body_of(body, ServicePatch).model_dump()
    found = service.update_service(
        session, actor, queries.get_service(session, service_id), changes
    )
    return f"Service {found.name} was saved."


SERVICES = Section(
    key="services",
    title="Services",
    singular="service",
    headers=("Name", "Offered to", "Owner group", "Description"),
    rows=service_rows,
    create_fields=service_fields,
    create_schema=ServiceCreate,
    create=create_service,
    edit=edit_service,
    edit_schema=ServicePatch,
    update=update_service,
)


# ---------------------------------------------------------------- configuration items

CRITICALITY_CHOICES = [(c, c) for c in CRITICALITIES]


def ci_rows(session: Session) -> list[Row]:
    services = {s.id: s.name for s in queries.list_services(session)}
    groups = _names(group_choices(session))
    return [
        Row(
            (
                c.name,
                c.ci_class,
                c.criticality,
                services.get(c.service_id, "") if c.service_id else "",
                _name(groups, c.owner_group_id),
            ),
            href=f"/admin/cis/{c.id}",
        )
        for c in queries.list_cis(session)
    ]


def _ci_fields(session: Session) -> list[Field]:
    services = options([(s.id, s.name) for s in queries.list_services(session)], empty=NONE)
    return [
        Field("ci_class", "Class", required=True, hint="e.g. server, database, laptop"),
        Field("criticality", "Criticality", "select", CRITICALITY_CHOICES, value="medium"),
        Field("service_id", "Service", "id", services),
        Field("owner_group_id", "Owner group", "id", group_choices(session)),
    ]


def ci_fields(session: Session) -> list[Field]:
    return [Field("name", "Name", required=True), *_ci_fields(session)]


def create_ci(session: Session, actor: Actor, body: BaseModel) -> Done:
    data = body_of(body, CICreate)
    found = service.create_ci(session, actor, **data.model_dump())
    return Done(f"Configuration item {found.name} was added.")


def edit_ci(session: Session, ci_id: int) -> Edit:
    found = queries.get_ci(session, ci_id)
    return Edit(
        heading=f"Configuration item {found.name}",
        fields=_ci_fields(session),
        values={
            "ci_class": found.ci_class,
            "criticality": found.criticality,
            "service_id": found.service_id,
            "owner_group_id": found.owner_group_id,
        },
    )


def update_ci(session: Session, actor: Actor, ci_id: int, body: BaseModel) -> str:
    changes = body_of(body, CIPatch).model_dump()
    if changes["ci_class"] is None or changes["criticality"] is None:  # as the API refuses
        raise InvalidInput(
            "ci_class and criticality cannot be emptied",
            errors=[{"field": "ci_class", "msg": "a configuration item needs a class"}],
        )
    found = service.update_ci(session, actor, queries.get_ci(session, ci_id), changes)
    return f"Configuration item {found.name} was saved."


CIS = Section(
    key="cis",
    title="Configuration items",
    singular="configuration item",
    headers=("Name", "Class", "Criticality", "Service", "Owner group"),
    rows=ci_rows,
    create_fields=ci_fields,
    create_schema=CICreate,
    create=create_ci,
    edit=edit_ci,
    edit_schema=CIPatch,
    update=update_ci,
)


# ---------------------------------------------------------------- categories


def category_rows(session: Session) -> list[Row]:
    """The tree, flattened: each category, then its subcategories as "Parent › Child"."""
    found = list(queries.list_categories(session))
    tops = sorted((c for c in found if c.parent_id is None), key=lambda c: c.name.lower())
    rows = []
    for top in tops:
        rows.append(Row((top.name, "category")))
        children = sorted((c for c in found if c.parent_id == top.id), key=lambda c: c.name.lower())
        rows.extend(Row((f"{top.name} › {c.name}", "subcategory")) for c in children)
    return rows


def category_fields(session: Session) -> list[Field]:
    tops = [(c.id, c.name) for c in queries.list_categories(session) if c.parent_id is None]
    return [
        Field("name", "Name", required=True),
        Field("parent_id", "Under", "id", options(tops, empty="Nothing: a top-level category")),
    ]


def create_category(session: Session, actor: Actor, body: BaseModel) -> Done:
    data = body_of(body, CategoryCreate)
    found = service.create_category(session, actor, **data.model_dump())
    return Done(f"Category {found.name} was added.")


CATEGORIES = Section(
    key="categories",
    title="Categories",
    singular="category",
    headers=("Category", "Level"),
    rows=category_rows,
    create_fields=category_fields,
    create_schema=CategoryCreate,
    create=create_category,
    hint="Two levels: categories and their subcategories.",
)
