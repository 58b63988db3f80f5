"""Reads for the catalog."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from dutydesk.kernel.errors import NotFound
from dutydesk.models import Category, ConfigurationItem, Service


def get_service(session: Session, service_id: int) -> Service:
    service = session.get(Service, service_id)
    if service is None:
        raise NotFound(f"service {service_id} not found")
    return service


def get_service_by_name(session: Session, name: str) -> Service:
    service = session.scalar(select(Service).where(Service.name == name))
    if service is None:
        raise NotFound(f"service {name!r} not found")
    return service


def list_services(session: Session) -> Sequence[Service]:
    return session.scalars(select(Service).order_by(Service.name)).all()


def get_ci(session: Session, ci_id: int) -> ConfigurationItem:
    ci = session.get(ConfigurationItem, ci_id)
    if ci is None:
        raise NotFound(f"configuration item {ci_id} not found")
    return ci


def get_ci_by_name(session: Session, name: str) -> ConfigurationItem:
    ci = session.scalar(select(ConfigurationItem).where(ConfigurationItem.name == name))
    if ci is None:
        raise NotFound(f"configuration item {name!r} not found")
    return ci


def list_cis(
    session: Session, service_id: int | None = None, *, for_customer: int | bool | None = False
) -> Sequence[ConfigurationItem]:
    """All CIs, or (for_customer=id or None) only those of services that customer is offered."""
    query = select(ConfigurationItem).order_by(ConfigurationItem.name)
    if for_customer is not False:
        query = query.outerjoin(Service, Service.id == ConfigurationItem.service_id).where(
            Service.customer_id.is_(None) | (Service.customer_id == for_customer)
        )
    if service_id is not None:
        query = query.where(ConfigurationItem.service_id == service_id)
    return session.scalars(query).all()


def get_category(session: Session, category_id: int) -> Category:
    category = session.get(Category, category_id)
    if category is None:
        raise NotFound(f"category {category_id} not found")
    return category


def find_category(session: Session, name: str, parent_id: int | None) -> Category | None:
    parent = Category.parent_id.is_(None) if parent_id is None else Category.parent_id == parent_id
    return session.scalar(select(Category).where(Category.name == name, parent))


def list_categories(session: Session) -> Sequence[Category]:
    return session.scalars(select(Category).order_by(Category.parent_id, Category.name)).all()
