"""Writes for the catalog (admin only; never commit)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, require_admin
from dutydesk.catalog import queries
from dutydesk.kernel import clock
from dutydesk.kernel.errors import Conflict, InvalidInput
from dutydesk.kernel.persistence import flush_unique
from dutydesk.models import Category, ConfigurationItem, Service
from dutydesk.people import queries as people_queries

CRITICALITIES = ("low", "medium", "high", "critical")


def _name(name: str) -> str:
    if not name.strip() or len(name) > 120:
        raise InvalidInput("a name of 1–120 characters is required")
    return name.strip()


def create_service(
    session: Session,
    actor: Actor,
    *,
    name: str,
    description: str = "",
    customer_id: int | None = None,
    owner_group_id: int | None = None,
) -> Service:
    require_admin(actor)
    if customer_id is not None:
        people_queries.get_customer(session, customer_id)
    if owner_group_id is not None:
        people_queries.get_group(session, owner_group_id)
    service = Service(
        name=_name(name),
        description=description,
        customer_id=customer_id,
        owner_group_id=owner_group_id,
        created_at=clock.now(),
    )
    session.add(service)
    flush_unique(session, f"a service named {name!r}")
    return service


def create_ci(
    session: Session,
    actor: Actor,
    *,
    name: str,
    ci_class: str,
    criticality: str = "medium",
    service_id: int | None = None,
    owner_group_id: int | None = None,
) -> ConfigurationItem:
    require_admin(actor)
    if criticality not in CRITICALITIES:
        raise InvalidInput(f"criticality must be one of {', '.join(CRITICALITIES)}")
    if not ci_class.strip():
        raise InvalidInput("a configuration item needs a class")
    if service_id is not None:
        queries.get_service(session, service_id)
    if owner_group_id is not None:
        people_queries.get_group(session, owner_group_id)
    ci = ConfigurationItem(
        name=_name(name),
        ci_class=ci_class.strip(),
        criticality=criticality,
        service_id=service_id,
        owner_group_id=owner_group_id,
        created_at=clock.now(),
    )
    session.add(ci)
    flush_unique(session, f"a configuration item named {name!r}")
    return ci


def create_category(
    session: Session, actor: Actor, *, name: str, parent_id: int | None = None
) -> Category:
    require_admin(actor)
    if parent_id is not None:
        parent = queries.get_category(session, parent_id)
        if parent.parent_id is not None:
            raise InvalidInput("categories are two levels deep: category → subcategory")
    name = _name(name)
    if queries.find_category(session, name, parent_id) is not None:
        raise Conflict(f"a category named {name!r} already exists there")
    category = Category(name=name, parent_id=parent_id, created_at=clock.now())
    session.add(category)
    session.flush()
    return category


def update_service(
    session: Session, actor: Actor, service: Service, changes: dict[str, object]
) -> Service:
    """Apply the given fields (description, customer_id, owner_group_id); None clears ids."""
    require_admin(actor)
    if changes.get("customer_id") is not None:
        people_queries.get_customer(session, int(str(changes["customer_id"])))
    if changes.get("owner_group_id") is not None:
        people_queries.get_group(session, int(str(changes["owner_group_id"])))
    for name in ("description", "customer_id", "owner_group_id"):
        if name in changes:
            setattr(service, name, changes[name])
    return service


def update_ci(
    session: Session, actor: Actor, ci: ConfigurationItem, changes: dict[str, object]
) -> ConfigurationItem:
    """Apply the given fields (ci_class, criticality, service_id, owner_group_id)."""
    require_admin(actor)
    if "criticality" in changes and changes["criticality"] not in CRITICALITIES:
        raise InvalidInput(f"criticality must be one of {', '.join(CRITICALITIES)}")
    if changes.get("service_id") is not None:
        queries.get_service(session, int(str(changes["service_id"])))
    if changes.get("owner_group_id") is not None:
        people_queries.get_group(session, int(str(changes["owner_group_id"])))
    for name in ("ci_class", "criticality", "service_id", "owner_group_id"):
        if name in changes:
            setattr(ci, name, changes[name])
    return ci
