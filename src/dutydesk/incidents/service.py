"""Writes for incidents, named after ITIL actions; each logs history and never commits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, Role, can_see_customer, require_staff, require_write_scope
from dutydesk.catalog import queries as catalog
from dutydesk.config import Settings, get_settings
from dutydesk.incidents import changes, history, notices, rules
from dutydesk.incidents.lifecycle import (
    TERMINAL,
    Action,
    Status,
)
from dutydesk.incidents.priority import missing_checklist_fields
from dutydesk.incidents.schemas import Channel, IncidentCreate, IncidentPatch
from dutydesk.kernel.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
)
from dutydesk.models import Counter, Customer, Incident, SupportGroup, User
from dutydesk.people import queries as people
from dutydesk.routing import service as routing
from dutydesk.sla import service as sla
from dutydesk.triage import service as triage

# An agent logging a call, a visit or a chat has responded (the SLA response clock is met).
LIVE_CHANNELS = frozenset({Channel.phone, Channel.walk_in, Channel.chat})
TIER_RANK = {"l1": 1, "l2": 2, "l3": 3, "supplier": 4}


_COUNTER: Table = Counter.__table__  # type: ignore[assignment]  # Core: the ORM's bulk-update path costs 10x
# Built once (statement construction costs as much as running it); prefix and step are parameters.
_BUMP = (
    update(_COUNTER)
    .where(_COUNTER.c.name == bindparam("prefix"))
    .values(value=_COUNTER.c.value + bindparam("n"))
    .returning(_COUNTER.c.value)
)


def next_number(session: Session, prefix: str = "INC", width: int = 7) -> str:
    """Unique under concurrency: the counter row is bumped with UPDATE … RETURNING."""
    return reserve_numbers(session, 1, prefix, width)[0]


def reserve_numbers(session: Session, n: int, prefix: str = "INC", width: int = 7) -> list[str]:
    """The next `n` numbers, consecutive, with one bump of the counter row. The bump holds
    the row's lock until the transaction ends and a rollback undoes it, so numbers stay
    gapless only if every number reserved is used in the same (sub)transaction."""
    if n < 1:
        return []
    params = {"prefix": prefix, "n": n}
    value = session.connection().execute(_BUMP, params).scalar()
    if value is None:
        try:
            with session.begin_nested():
                session.execute(insert(_COUNTER).values(name=prefix, value=0))
        except IntegrityError:
            pass  # another transaction created it first
        value = session.connection().execute(_BUMP, params).scalar_one()
    return [f"{prefix}{v:0{width}d}" for v in range(value - n + 1, value + 1)]


_INCIDENTS: Table = Incident.__table__  # type: ignore[assignment]
_LAST_ID = select(func.max(_INCIDENTS.c.id))


def _give_ids(session: Session, incidents: list[Incident]) -> None:
    """On SQLite, the ids of a group of new incidents, so its flush is one INSERT: without
    them SQLAlchemy inserts each row with its own statement, as SQLite cannot say which row
    of a multi-row INSERT … RETURNING got which id (a third of a create's flush). They are
    the ids SQLite would choose (max + 1, the table has no AUTOINCREMENT), and nothing else
    can insert in between: a SQLite write transaction holds the database's one write lock
    from its start (BEGIN IMMEDIATE), and these are the only incidents pending (those an
    autoflush already wrote have theirs). PostgreSQL
    batches rows with generated ids itself, and keeps its sequence."""
    pending = [i for i in incidents if i.id is None]  # an autoflush may have written some
    if session.get_bind().dialect.name != "sqlite" or len(pending) < 2:
        return
    ours = {id(i) for i in pending}
    if any(isinstance(o, Incident) and id(o) not in ours for o in session.new):
        return
    last = session.connection().execute(_LAST_ID).scalar() or 0
    for offset, incident in enumerate(pending, start=1):
        incident.id = last + offset


def etag(incident: Incident) -> str:
    return f'"{incident.version}"'


def check_version(incident: Incident, if_match: str | None, settings: Settings) -> None:
    """Optimistic concurrency: If-Match must name the current version (RFC 9110)."""
    if if_match is None:
        if settings.require_if_match:
            raise PreconditionRequired(
                "send If-Match with the ETag of the version you read",
                extra={"etag": etag(incident)},
            )
        return
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in wanted and etag(incident) not in wanted:
        raise PreconditionFailed(
            f"{incident.number} changed since you read it (now version {incident.version})",
            extra={"etag": etag(incident)},
        )


# ---------------------------------------------------------------- references


def _check_references(
    session: Session, actor: Actor, values: dict[str, Any], current: Incident | None = None
) -> None:
    """Every id must exist and be visible to the actor; otherwise 404 naming the field."""
    missing: list[dict[str, Any]] = []

    def gone(name: str, msg: str = "not found") -> None:
        missing.append({"field": name, "msg": msg})

    def value(name: str) -> Any:
        if name in values:
            return values[name]
        return getattr(current, name) if current is not None else None

    customer_id = value("customer_id")
    if "customer_id" in values and customer_id is not None:
        exists = session.get(Customer, customer_id)
        if exists is None or not can_see_customer(actor, customer_id):
            gone("customer_id")
    if "caller_id" in values and values["caller_id"] is not None:
        caller = session.get(User, values["caller_id"])
        if (
            caller is None
            or not caller.is_active
            or (caller.customer_id is not None and not can_see_customer(actor, caller.customer_id))
        ):
            gone("caller_id")
    for name, getter in (
        ("service_id", catalog.get_service),
        ("ci_id", catalog.get_ci),
        ("category_id", catalog.get_category),
        ("subcategory_id", catalog.get_category),
    ):
        if name in values and values[name] is not None:
            try:
                getter(session, values[name])
            except NotFound:
                gone(name)
    if missing:
        raise NotFound("a referenced record does not exist or is not visible", errors=missing)
    _check_consistency(session, values, value)


def _check_consistency(session: Session, values: dict[str, Any], value: Any) -> None:
    errors: list[dict[str, Any]] = []
    category_id, subcategory_id = value("category_id"), value("subcategory_id")
    is_sub = category_id is not None and catalog.get_category(session, category_id).parent_id
    if "category_id" in values and is_sub:
        errors.append({"field": "category_id", "msg": "is a subcategory, not a category"})
    if subcategory_id is not None and ("subcategory_id" in values or "category_id" in values):
        sub = catalog.get_category(session, subcategory_id)
        if sub.parent_id is None or sub.parent_id != category_id:
            errors.append({"field": "subcategory_id", "msg": "is not a subcategory of category_id"})
    service_id, customer_id = value("service_id"), value("customer_id")
    if service_id is not None and ("service_id" in values or "customer_id" in values):
        service = catalog.get_service(session, service_id)
        if service.customer_id is not None and service.customer_id != customer_id:
            errors.append({"field": "service_id", "msg": "is not offered to this customer"})
    ci_id = value("ci_id")
    if (
        ci_id is not None
        and service_id is not None
        and ("ci_id" in values or "service_id" in values)
    ):
        ci = catalog.get_ci(session, ci_id)
        if ci.service_id is not None and ci.service_id != service_id:
            errors.append({"field": "ci_id", "msg": "does not belong to service_id"})
    caller_id = value("caller_id")
    if caller_id is not None and ("caller_id" in values or "customer_id" in values):
        caller = session.get(User, caller_id)
        if caller is not None and caller.customer_id not in (None, customer_id):
            errors.append({"field": "caller_id", "msg": "belongs to another customer"})
    if errors:
        raise InvalidInput("the incident's references do not fit together", errors=errors)


def resolve_assignment(
    session: Session, actor: Actor, group_id: int | None, assignee_id: int | None
) -> tuple[SupportGroup | None, User | None]:
    group = people.get_group(session, group_id) if group_id is not None else None
    assignee = None
    if assignee_id is not None:
        assignee = session.get(User, assignee_id)
        if assignee is None or not assignee.is_active or assignee.role == Role.requester:
            raise NotFound("no such agent", errors=[{"field": "assignee_id", "msg": "not found"}])
        if group is not None and not people.is_group_member(session, group.id, assignee.id):
            raise InvalidInput(
                f"{assignee.username} is not a member of {group.name}",
                errors=[{"field": "assignee_id", "msg": "not a member of the group"}],
            )
    return group, assignee


# ---------------------------------------------------------------- logging


def open_incident(
    session: Session,
    actor: Actor,
    data: IncidentCreate,
    *,
    settings: Settings,
    number: str | None = None,
) -> Incident:
    """ITIL logging: checklist, priority, number, first history events (LOG-1). `number`:
    one the caller reserved (`reserve_numbers`) for a batch it opens in one go."""
    require_write_scope(actor)
    values = data.model_dump(exclude_unset=True)
    if actor.role == Role.requester:
        staff_only = [
            f for f in ("assignment_group_id", "assignee_id") if values.get(f) is not None
        ]
        if values.get("caller_id") not in (None, actor.user_id):
            staff_only.append("caller_id")
        if staff_only:
            raise InvalidInput(
                "requesters cannot set these fields",
                errors=[
                    {"field": f, "msg": "only service desk staff may set this"} for f in staff_only
                ],
            )
        values["caller_id"] = actor.user_id
        values.setdefault("customer_id", actor.customer_id)
        values.setdefault("channel", Channel.portal)
    if values.get("caller_id") is not None and values.get("customer_id") is None:
        caller = session.get(User, values["caller_id"])
        if caller is not None and caller.customer_id is not None:
            values["customer_id"] = caller.customer_id
    values.setdefault("channel", Channel.api if actor.channel == "api" else Channel.phone)
    _check_references(session, actor, values)
    group, assignee = resolve_assignment(
        session, actor, values.get("assignment_group_id"), values.get("assignee_id")
    )
    if assignee is not None and group is None:
        raise InvalidInput(
            "an assignee needs an assignment group",
            errors=[{"field": "assignment_group_id", "msg": "required with assignee_id"}],
        )
    matrix, checklist = rules.get_logging_rules(session)
    named = {k.removesuffix("_id"): v for k, v in values.items()}
    named["assignment_group"] = values.get("assignment_group_id")
    missing = missing_checklist_fields(named, checklist)
    if missing:
        raise InvalidInput(
            "the minimum information for logging an incident is missing",
            errors=[{"field": f, "msg": "required by the logging checklist"} for f in missing],
        )
    impact = values.get("impact") or matrix.levels
    urgency = values.get("urgency") or matrix.levels
    _check_levels(matrix.levels, impact, urgency)
    incident = changes.new_incident(
        number or next_number(session),
        short_description=values["short_description"],
        description=values.get("description", ""),
        channel=str(values["channel"]),
        caller_id=values.get("caller_id"),
        opened_by_id=actor.user_id,
        customer_id=values.get("customer_id"),
        service_id=values.get("service_id"),
        ci_id=values.get("ci_id"),
        category_id=values.get("category_id"),
        subcategory_id=values.get("subcategory_id"),
        impact=impact,
        urgency=urgency,
        priority=matrix.priority(impact, urgency),
        state=Status.new,
    )
    session.add(incident)
    sla.note_new(session, incident)
    history.record(
        session, incident, actor, "created", new=changes.snapshot(incident), rule_id="LOG-1"
    )
    history.record(
        session,
        incident,
        actor,
        "priority_changed",
        field="priority",
        new=incident.priority,
        reason=f"impact {impact} × urgency {urgency} → P{incident.priority}",
        rule_id="PRI-1",
    )
    if group is not None:
        changes.apply_assignment(session, actor, incident, group, assignee, Action.assign, None)
    if incident.channel in LIVE_CHANNELS:  # the caller is talking to the agent logging it
        changes.acknowledge(incident, actor)
    triage.suggest_at_creation(session, settings, actor, incident)  # fills empty fields
    routing.route_new(session, settings, actor, incident)  # business rules, then the strategy
    sla.sync_clocks(session, actor, incident)
    notices.after_logging(session, settings, actor, incident)
    return incident


def open_incidents(
    session: Session,
    requests: list[tuple[Actor, IncidentCreate]],
    *,
    settings: Settings,
    each: Callable[[int, Incident], None] | None = None,
) -> list[Incident]:
    """`open_incident` for many, in order, as one unit: their numbers reserved with one bump
    of the counter, the incidents written by one flush. `each(i, incident)` runs right after
    the i-th is opened, before that flush (e.g. one more history event, so the INSERT
    carries the final history head). If one cannot be logged, the error is raised and the
    caller rolls back the whole group (the group commit, or the intake, then opens each on
    its own, so each gets its own answer)."""
    numbers = reserve_numbers(session, len(requests))
    opened = []
    for i, ((actor, data), number) in enumerate(zip(requests, numbers, strict=True)):
        incident = open_incident(session, actor, data, settings=settings, number=number)
        if each is not None:
            each(i, incident)
        opened.append(incident)
    _give_ids(session, opened)
    session.flush()
    return opened


def _check_levels(levels: int, impact: int | None, urgency: int | None) -> None:
    errors = [
        {"field": name, "msg": f"must be between 1 (highest) and {levels} (lowest)"}
        for name, val in (("impact", impact), ("urgency", urgency))
        if val is not None and not 1 <= val <= levels
    ]
    if errors:
        raise InvalidInput("impact and urgency are outside the priority matrix", errors=errors)


def amend_incident(
    session: Session,
    actor: Actor,
    incident: Incident,
    patch: IncidentPatch,
    *,
    settings: Settings | None = None,
) -> Incident:
    """Change descriptive fields; impact/urgency changes recompute the priority (PRI-2)."""
    require_staff(actor)
    if Status(incident.state) in TERMINAL:
        raise Conflict(f"{incident.number} is {incident.state}; its record is read-only")
    values = patch.model_dump(exclude_unset=True)
    reason = values.pop("reason", None)
    not_null = [
        f
        for f in ("short_description", "description", "impact", "urgency")
        if f in values and values[f] is None
    ]
    if not_null:
        raise InvalidInput(
            "these fields cannot be emptied",
            errors=[{"field": f, "msg": "must not be null"} for f in not_null],
        )
    _check_references(session, actor, values, incident)
    matrix = rules.get_priority_matrix(session)
    _check_levels(matrix.levels, values.get("impact"), values.get("urgency"))
    before = routing.before_update(session, incident)
    changed = False
    for name, new in values.items():
        old = getattr(incident, name)
        if old == new:
            continue
        setattr(incident, name, new)
        history.record(
            session, incident, actor, "field_changed", field=name, old=old, new=new, reason=reason
        )
        changed = True
    new_priority = matrix.priority(incident.impact, incident.urgency)
    if new_priority != incident.priority:
        why = reason or f"impact {incident.impact} × urgency {incident.urgency} → P{new_priority}"
        history.record(
            session,
            incident,
            actor,
            "priority_changed",
            field="priority",
            old=incident.priority,
            new=new_priority,
            reason=why,
            rule_id="PRI-2",
        )
        incident.priority = new_priority
    if changed:
        changes.touch(incident)
        routing.route_update(session, settings or get_settings(), actor, incident, before)
        sla.sync_clocks(session, actor, incident)
    return incident
