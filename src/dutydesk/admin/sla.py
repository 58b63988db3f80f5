"""Admin sections of SLAs: calendars (a structured form that produces the API's JSON
config), SLA policies and OLAs. Every write is the `sla.service` call the SLA API makes."""

from __future__ import annotations

import json

from pydantic import BaseModel
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.admin.calendar_form import DAY_NAMES, CalendarForm, config_of, placed, values_of
from dutydesk.admin.forms import Field, Row, options
from dutydesk.admin.people import body_of, customer_choices, group_choices, yes
from dutydesk.admin.sections import Done, Edit, Section
from dutydesk.catalog import queries as catalog
from dutydesk.kernel.errors import InvalidInput
from dutydesk.sla import admin as sla_admin
from dutydesk.sla import queries
from dutydesk.sla.calendar import WEEKDAYS
from dutydesk.sla.schemas import OlaCreate, OlaPatch, PolicyCreate, PolicyPatch

PRIORITIES = [(str(p), f"P{p}") for p in range(1, 6)]
PAUSES = [(s, s.replace("_", " ")) for s in ("pending_user", "pending_vendor", "pending_change")]
RANGES_HINT = "Ranges such as 08:00-12:00, 13:00-17:00; empty: closed."


def minutes(seconds: int | None) -> str:
    return "" if seconds is None else str(seconds // 60)


def calendar_choices(session: Session) -> list[tuple[str, str]]:
    return options([(c.id, c.name) for c in queries.list_calendars(session)])


# ---------------------------------------------------------------- calendars


def calendar_rows(session: Session) -> list[Row]:
    rows = []
    for c in queries.list_calendars(session):
        config = queries.calendar_config(c)
        holidays = config.get("holidays") or {}
        where = "-".join(p for p in (holidays.get("country"), holidays.get("subdivision")) if p)
        cells = (
            c.name,
            str(config.get("timezone", "")),
            where,
            str(len(config.get("closed_days", []))),
        )
        rows.append(Row(cells, href=f"/admin/calendars/{c.id}"))
    return rows


def calendar_fields(session: Session) -> list[Field]:
    return [
        Field("name", "Name", required=True),
        Field(
            "timezone",
            "Time zone",
            required=True,
            value="UTC",
            hint="An IANA name such as Europe/Berlin.",
        ),
        *(
            Field(
                f"hours_{day}",
                f"{DAY_NAMES[day]} hours",
                value="08:00-17:00" if day not in ("sat", "sun") else "",
                hint=RANGES_HINT if day == "mon" else "",
            )
            for day in WEEKDAYS
        ),
        Field(
            "holiday_country",
            "Public holidays of country",
            hint="A country code such as DE; empty: none.",
        ),
        Field("holiday_subdivision", "Subdivision", hint="A region code such as BY; optional."),
        Field("closed_days", "Closed days", "textarea", hint="One date (YYYY-MM-DD) per line."),
        Field(
            "open_days",
            "Special opening days",
            "textarea",
            hint="One per line: a date and its hours, e.g. 2026-12-27 09:00-13:00.",
        ),
    ]


def _placed(exc: InvalidInput) -> InvalidInput:
    return InvalidInput(exc.detail, errors=placed(exc.errors))


def create_calendar(session: Session, actor: Actor, body: BaseModel) -> Done:
    form = body_of(body, CalendarForm)
    try:
        row = sla_admin.create_calendar(session, actor, name=form.name, config=config_of(form))
    except InvalidInput as exc:
        raise _placed(exc) from exc
    return Done(f"Calendar {row.name} was added.")


def edit_calendar(session: Session, calendar_id: int) -> Edit:
    row = queries.get_calendar(session, calendar_id)
    return Edit(
        heading=f"Calendar {row.name}",
        fields=calendar_fields(session),
        values=values_of(row.name, queries.calendar_config(row)),
    )


def update_calendar(session: Session, actor: Actor, calendar_id: int, body: BaseModel) -> str:
    form = body_of(body, CalendarForm)
    row = queries.get_calendar(session, calendar_id)
    try:
        sla_admin.update_calendar(session, actor, row, name=form.name, config=config_of(form))
    except InvalidInput as exc:
        raise _placed(exc) from exc
    return f"Calendar {row.name} was saved."


def delete_calendar(session: Session, actor: Actor, calendar_id: int) -> str:
    row = queries.get_calendar(session, calendar_id)
    sla_admin.delete_calendar(session, actor, row)
    return f"Calendar {row.name} was deleted."


CALENDARS = Section(
    key="calendars",
    title="SLA calendars",
    singular="calendar",
    headers=("Name", "Time zone", "Holidays", "Closed days"),
    rows=calendar_rows,
    create_fields=calendar_fields,
    create_schema=CalendarForm,
    create=create_calendar,
    edit=edit_calendar,
    edit_schema=CalendarForm,
    update=update_calendar,
    delete=delete_calendar,
    hint="Business hours the SLA clocks count in.",
)


# ---------------------------------------------------------------- SLA policies


def _labels(session: Session) -> tuple[dict[int, str], dict[int, str], dict[int, str]]:
    customers = {int(v): label for v, label in customer_choices(session) if v}
    services = {s.id: s.name for s in catalog.list_services(session)}
    calendars = {c.id: c.name for c in queries.list_calendars(session)}
    return customers, services, calendars


def policy_rows(session: Session) -> list[Row]:
    customers, services, calendars = _labels(session)
    return [
        Row(
            (
                p.name,
                customers.get(p.customer_id, "") if p.customer_id else "any",
                services.get(p.service_id, "") if p.service_id else "any",
                f"P{p.priority}" if p.priority else "any",
                minutes(p.response_seconds),
                minutes(p.resolution_seconds),
                calendars.get(p.calendar_id, ""),
                "active" if p.active else "inactive",
            ),
            href=f"/admin/policies/{p.id}",
        )
        for p in queries.list_policies(session)
    ]


def policy_fields(session: Session) -> list[Field]:
    services = options([(s.id, s.name) for s in catalog.list_services(session)], empty="Any")
    return [
        Field("name", "Name", required=True),
        Field("customer_id", "Customer", "id", customer_choices(session, "Any")),
        Field("service_id", "Service", "id", services),
        Field("priority", "Priority", "id", [("", "Any"), *PRIORITIES]),
        Field("calendar_id", "Calendar", "id", calendar_choices(session), value="1"),
        Field("response_seconds", "Response target (minutes)", "minutes"),
        Field("resolution_seconds", "Resolution target (minutes)", "minutes"),
        Field("warn_percents", "Warn at (% of the target)", "ints", value="50, 75"),
        Field(
            "pause_states",
            "Clocks pause in",
            "checks",
            PAUSES,
            value="pending_user\npending_vendor",
        ),
        Field(
            "raise_priority_on_breach",
            "Raise the priority one step on a resolution breach",
            "checkbox",
        ),
        Field("active", "Active", "checkbox", value="on"),
    ]


def create_policy(session: Session, actor: Actor, body: BaseModel) -> Done:
    row = sla_admin.create_policy(session, actor, body_of(body, PolicyCreate).model_dump())
    return Done(f"SLA policy {row.name} was added.")


def edit_policy(session: Session, policy_id: int) -> Edit:
    p = queries.get_policy(session, policy_id)
    values: dict[str, object] = {
        "name": p.name,
        "customer_id": p.customer_id,
        "service_id": p.service_id,
        "priority": p.priority,
        "calendar_id": p.calendar_id,
        "response_seconds": minutes(p.response_seconds),
        "resolution_seconds": minutes(p.resolution_seconds),
        "warn_percents": ", ".join(str(w) for w in queries_list(p.warn_percents)),
        "pause_states": queries_list(p.pause_states),
        "raise_priority_on_breach": p.raise_priority_on_breach,
        "active": p.active,
    }
    return Edit(heading=f"SLA policy {p.name}", fields=policy_fields(session), values=values)


def queries_list(stored: str) -> list[object]:
    """A JSON list column as stored by the SLA service."""
    found = json.loads(stored)
    return list(found) if isinstance(found, list) else []


def update_policy(session: Session, actor: Actor, policy_id: int, body: BaseModel) -> str:
    row = queries.get_policy(session, policy_id)
    sla_admin.update_policy(session, actor, row, body_of(body, PolicyPatch).model_dump())
    return f"SLA policy {row.name} was saved."


def delete_policy(session: Session, actor: Actor, policy_id: int) -> str:
    row = queries.get_policy(session, policy_id)
    sla_admin.delete_policy(session, actor, row)
    return f"SLA policy {row.name} was deleted."


POLICIES = Section(
    key="policies",
    title="SLA policies",
    singular="SLA policy",
    headers=(
        "Name",
        "Customer",
        "Service",
        "Priority",
        "Response (min)",
        "Resolution (min)",
        "Calendar",
        "Status",
    ),
    rows=policy_rows,
    create_fields=policy_fields,
    create_schema=PolicyCreate,
    create=create_policy,
    edit=edit_policy,
    edit_schema=PolicyPatch,
    update=update_policy,
    delete=delete_policy,
    hint="The most specific active policy applies; one catch-all policy always exists.",
)


# ---------------------------------------------------------------- OLAs


def ola_rows(session: Session) -> list[Row]:
    groups = {int(v): label for v, label in group_choices(session) if v}
    calendars = {c.id: c.name for c in queries.list_calendars(session)}
    return [
        Row(
            (
                groups.get(o.group_id, ""),
                f"P{o.priority}" if o.priority else "any",
                minutes(o.resolution_seconds),
                calendars.get(o.calendar_id, ""),
                yes(o.active),
            ),
            href=f"/admin/olas/{o.id}",
        )
        for o in queries.list_olas(session)
    ]


def _ola_fields(session: Session) -> list[Field]:
    return [
        Field("priority", "Priority", "id", [("", "Any"), *PRIORITIES]),
        Field("calendar_id", "Calendar", "id", calendar_choices(session), value="1"),
        Field("resolution_seconds", "Resolution target (minutes)", "minutes", required=True),
        Field("warn_percents", "Warn at (% of the target)", "ints", value="50, 75"),
        Field("active", "Active", "checkbox", value="on"),
    ]


def ola_fields(session: Session) -> list[Field]:
    groups = group_choices(session, "Choose a group")
    return [Field("group_id", "Support group", "id", groups, required=True), *_ola_fields(session)]


def create_ola(session: Session, actor: Actor, body: BaseModel) -> Done:
    sla_admin.create_ola(session, actor, body_of(body, OlaCreate).model_dump())
    return Done("The OLA was added.")


def edit_ola(session: Session, ola_id: int) -> Edit:
    o = queries.get_ola(session, ola_id)
    values: dict[str, object] = {
        "priority": o.priority,
        "calendar_id": o.calendar_id,
        "resolution_seconds": minutes(o.resolution_seconds),
        "warn_percents": ", ".join(str(w) for w in queries_list(o.warn_percents)),
        "active": o.active,
    }
    return Edit(heading=f"OLA {o.id}", fields=_ola_fields(session), values=values)


def update_ola(session: Session, actor: Actor, ola_id: int, body: BaseModel) -> str:
    row = queries.get_ola(session, ola_id)
    sla_admin.update_ola(session, actor, row, body_of(body, OlaPatch).model_dump())
    return f"OLA {row.id} was saved."


def delete_ola(session: Session, actor: Actor, ola_id: int) -> str:
    sla_admin.delete_ola(session, actor, queries.get_ola(session, ola_id))
    return f"OLA {ola_id} was deleted."


OLAS = Section(
    key="olas",
    title="OLAs",
    singular="OLA",
    headers=("Group", "Priority", "Resolution (min)", "Calendar", "Active"),
    rows=ola_rows,
    create_fields=ola_fields,
    create_schema=OlaCreate,
    create=create_ola,
    edit=edit_ola,
    edit_schema=OlaPatch,
    update=update_ola,
    delete=delete_ola,
    hint="Resolution targets of a support group's share of the work.",
)
