"""Routing writes (never commit): business rules applied on creation and on update, the
assignment strategies of support groups, and the admin writes for both.

Every firing appends ``rule_fired`` (rule id ``RUL-<id>``, the reason naming the rule and
the conditions that held), then the field changes it causes with the same rule id. An
automatic assignment by a group's strategy appends ``auto_assigned`` (``RTE-RR`` or
``RTE-LL``) with its reason, or ``auto_assign_skipped`` when nobody is available.
Assignments go through ``incidents.changes.apply_assignment``, as a manual assign does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, Role, require_admin
from dutydesk.config import Settings
from dutydesk.incidents import changes, history, notices, rules
from dutydesk.incidents.lifecycle import Action
from dutydesk.kernel import clock
from dutydesk.kernel.errors import Conflict, InvalidInput, NotFound
from dutydesk.models import (
    Category,
    ConfigurationItem,
    Customer,
    GroupRouting,
    Incident,
    RoutingRule,
    Service,
    SupportGroup,
    User,
)
from dutydesk.notify import service as notify
from dutydesk.people import queries as people
from dutydesk.routing import queries
from dutydesk.routing.conditions import (
    ACTIONS,
    FieldValue,
    Ref,
    check_rule,
    explain,
    matching,
    references,
)
from dutydesk.routing.queries import ActiveRule
from dutydesk.routing.schemas import RuleCreate, RulePatch
from dutydesk.routing.strategies import Pick, Strategy, least_loaded, round_robin

ENGINE_NAME = "routing"
STRATEGY_RULE = {Strategy.round_robin: "RTE-RR", Strategy.least_loaded: "RTE-LL"}
_TABLES: dict[str, type[Any]] = {
    "category": Category,
    "subcategory": Category,
    "service": Service,
    "ci": ConfigurationItem,
    "customer": Customer,
    "group": SupportGroup,
    "user": User,
}
_SET_FIELD = {
    "set_category": "category_id",
    "set_subcategory": "subcategory_id",
    "set_service": "service_id",
    "set_ci": "ci_id",
    "set_impact": "impact",
    "set_urgency": "urgency",
}


def rule_code(rule: RoutingRule | ActiveRule) -> str:
    return f"RUL-{rule.id}"


def engine_actor(actor: Actor) -> Actor:
    """Rules act as the routing engine, through the channel and request of the change."""
    return replace(
        actor,
        user_id=None,
        name=ENGINE_NAME,
        role=Role.admin,
        actor_type="system",
        scope="write",
    )


# ----------------------------------------------------------------- the incident as rules see it


def _name(row: Any) -> str:
    return str(getattr(row, "username", None) or getattr(row, "name", ""))


def view(
    session: Session, incident: Incident, fields: frozenset[str] | None = None
) -> dict[str, FieldValue]:
    """The incident's fields as conditions read them (references with their names); with
    `fields`, references no condition reads are left out (None) rather than looked up."""

    def ref(table: str, ref_id: int | None, field: str | None = None) -> Ref | None:
        if ref_id is None or (fields is not None and (field or table) not in fields):
            return None
        with session.no_autoflush:  # reference rows: nothing pending changes them
            row = session.get(_TABLES[table], ref_id)
        return Ref(ref_id, _name(row)) if row is not None else Ref(ref_id, "")

    return {
        "short_description": incident.short_description,
        "description": incident.description,
        "channel": incident.channel,
        "state": incident.state,
        "impact": incident.impact,
        "urgency": incident.urgency,
        "priority": incident.priority,
        "customer": ref("customer", incident.customer_id),
        "service": ref("service", incident.service_id),
        "ci": ref("ci", incident.ci_id),
        "category": ref("category", incident.category_id),
        "subcategory": ref("subcategory", incident.subcategory_id),
        "caller": ref("user", incident.caller_id, "caller"),
        "assignment_group": ref("group", incident.assignment_group_id, "assignment_group"),
        "assignee": ref("user", incident.assignee_id, "assignee"),
        "tags": list(incident.tags or []),
    }


# ----------------------------------------------------------------- hooks


def route_new(session: Session, settings: Settings, actor: Actor, incident: Incident) -> None:
    """On creation (every channel; never imported history): the rules flagged on_create in
    order, then the group's strategy when the incident has a group and no assignee."""
    if actor.actor_type == "import":
        return
    engine = engine_actor(actor)
    _run_rules(session, settings, engine, incident, event="create", before=None)
    if incident.assignment_group_id is not None and incident.assignee_id is None:
        assign_by_strategy(session, engine, incident)


def before_update(session: Session, incident: Incident) -> dict[str, FieldValue] | None:
    """The incident before an update, when some rule runs on update (else None)."""
    rules = [r for r in queries.active_rules(session) if r.on_update]
    if not rules:
        return None
    return view(session, incident, queries.condition_fields(rules))


def route_update(
    session: Session,
    settings: Settings,
    actor: Actor,
    incident: Incident,
    before: dict[str, FieldValue] | None,
) -> None:
    """After an update: each rule flagged on_update whose conditions became true through it
    fires once (a rule that already matched before the change does not fire again)."""
    if before is None or actor.actor_type == "import":
        return
    engine = engine_actor(actor)
    old_state = incident.state
    old_owner = (incident.assignment_group_id, incident.assignee_id)
    _run_rules(session, settings, engine, incident, event="update", before=before)
    regrouped = incident.assignment_group_id not in (None, old_owner[0])
    if regrouped and incident.assignee_id is None:
        assign_by_strategy(session, engine, incident)
    if (incident.assignment_group_id, incident.assignee_id) != old_owner:
        notices.after_action(
            session,
            settings,
            engine,
            incident,
            Action.assign,
            old_state=old_state,
            old_owner=old_owner,
            reason=None,
        )


def _run_rules(
    session: Session,
    settings: Settings,
    engine: Actor,
    incident: Incident,
    *,
    event: str,
    before: Mapping[str, FieldValue] | None,
) -> None:
    """Each rule is evaluated once, in order, against the incident as earlier rules left it;
    a firing rule with `stop` ends the run."""
    rules = [
        r
        for r in queries.active_rules(session)
        if (r.on_create if event == "create" else r.on_update)
    ]
    fields = queries.condition_fields(rules)
    now: dict[str, FieldValue] | None = None  # the view, rebuilt after a rule changed it
    for rule in rules:
        now = now or view(session, incident, fields)
        held = matching(rule.spec, now)
        if held is None or (before is not None and matching(rule.spec, before) is not None):
            continue
        fire(session, settings, engine, incident, rule, explain(rule.name, rule_code(rule), held))
        now = None
        if rule.stop:
            break


def fire(
    session: Session,
    settings: Settings,
    engine: Actor,
    incident: Incident,
    rule: ActiveRule,
    reason: str,
) -> None:
    code = rule_code(rule)
    spec = rule.spec
    history.record(
        session,
        incident,
        engine,
        "rule_fired",
        new={"rule": rule.name, "actions": [a.type for a in spec.actions]},
        reason=reason,
        rule_id=code,
    )
    for action in spec.actions:
        try:  # each action checks before it changes anything, so a refusal leaves no trace
            with session.no_autoflush:  # its lookups read reference rows, nothing pending
                _apply(session, settings, engine, incident, rule, action.type, action.value, reason)
        except (Conflict, InvalidInput, NotFound) as exc:  # not possible in this state now
            history.record(
                session,
                incident,
                engine,
                "rule_action_skipped",
                field=action.type,
                reason=f"{action.type} skipped: {exc}",
                rule_id=code,
            )
    changes.touch(incident)


def _apply(
    session: Session,
    settings: Settings,
    engine: Actor,
    incident: Incident,
    rule: ActiveRule,
    kind: str,
    value: Any,
    reason: str,
) -> None:
    code = rule_code(rule)
    if kind in _SET_FIELD:
        _set(session, engine, incident, kind, value, code)
    elif kind == "assign_group":
        group = people.get_group(session, int(value))
        if not group.is_active:
            raise InvalidInput(f"group {group.name} is inactive")
        if group.id != incident.assignment_group_id:
            changes.apply_assignment(
                session, engine, incident, group, None, Action.assign, reason, rule_id=code
            )
    elif kind == "assign_user":
        _assign_user(session, engine, incident, int(value), code, reason)
    elif kind == "add_tags":
        tags = list(incident.tags or [])
        known = {t.casefold() for t in tags}
        tags += [t for t in value if t.casefold() not in known]
        changes.set_field(session, engine, incident, "tags", tags, code)
    elif kind == "notify":
        _notify(session, settings, engine, incident, value, rule)
    elif kind == "mark_request":
        changes.set_field(session, engine, incident, "is_service_request", True, code)


def _set(
    session: Session, engine: Actor, incident: Incident, kind: str, value: int, code: str
) -> None:
    name = _SET_FIELD[kind]
    table = _TABLES.get(name.removesuffix("_id"))
    if table is not None and session.get(table, value) is None:
        raise InvalidInput(f"{name.removesuffix('_id')} {value} no longer exists")
    if name in ("impact", "urgency"):
        matrix = rules.get_priority_matrix(session)
        if value > matrix.levels:
            raise InvalidInput(f"{name} {value} is outside the {matrix.levels}-level matrix")
        changes.set_field(session, engine, incident, name, value, code)
        new_priority = matrix.priority(incident.impact, incident.urgency)
        if new_priority != incident.priority:
            history.record(
                session,
                incident,
                engine,
                "priority_changed",
                field="priority",
                old=incident.priority,
                new=new_priority,
                reason=f"impact {incident.impact} × urgency {incident.urgency} → P{new_priority}",
                rule_id=code,
            )
            incident.priority = new_priority
        return
    changes.set_field(session, engine, incident, name, value, code)


def _assign_user(
    session: Session, engine: Actor, incident: Incident, user_id: int, code: str, reason: str
) -> None:
    if incident.assignment_group_id is None:
        raise InvalidInput("the incident has no group to assign a member of")
    group = people.get_group(session, incident.assignment_group_id)
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.role == Role.requester:
        raise InvalidInput(f"user {user_id} is not an active agent")
    if not people.is_group_member(session, group.id, user.id):
        raise InvalidInput(f"{user.username} is not a member of {group.name}")
    if user.id != incident.assignee_id:
        changes.apply_assignment(
            session, engine, incident, group, user, Action.assign, reason, rule_id=code
        )


def _notify(
    session: Session,
    settings: Settings,
    engine: Actor,
    incident: Incident,
    value: Mapping[str, Any],
    rule: ActiveRule | RoutingRule,
) -> None:
    ids = list(value.get("users", []))
    for group_id in value.get("groups", []):
        ids += people.list_group_member_ids(session, group_id)
    session.flush()  # a new incident gets its id: the outbox rows refer to it
    extra: dict[str, object] = {"rule": rule.name}
    if value.get("message"):
        extra["comment"] = value["message"]
    notify.announce(
        session,
        settings,
        incident,
        "rule_notify",
        actor=engine,
        occurrence=f"{rule_code(rule)}.{incident.history_count}",
        extra=extra,
        recipients=ids,
    )


# ----------------------------------------------------------------- assignment strategies


def assign_by_strategy(session: Session, engine: Actor, incident: Incident) -> Pick | None:
    """Pick an assignee in the incident's group by the group's strategy (none: manual).

    The group's routing row is locked first (FOR UPDATE on PostgreSQL; SQLite has one
    writer), so concurrent creations read the loads and the cursor one after another."""
    assert incident.assignment_group_id is not None
    with session.no_autoflush:  # earlier creations of this transaction are flushed already
        setting = queries.get_group_routing(session, incident.assignment_group_id, for_update=True)
        if setting is None or setting.strategy == Strategy.manual:
            return None
        strategy = Strategy(setting.strategy)
        available = queries.available_members(session, setting.group_id)
        if strategy == Strategy.round_robin:
            pick = round_robin(available, setting.last_user_id)
        else:
            pick = least_loaded(queries.member_loads(session, available))
    code = STRATEGY_RULE[strategy]
    if pick.user_id is None:
        history.record(
            session, incident, engine, "auto_assign_skipped", reason=pick.reason, rule_id=code
        )
        return pick
    group = people.get_group(session, setting.group_id)
    user = people.get_user(session, pick.user_id)
    history.record(
        session,
        incident,
        engine,
        "auto_assigned",
        field="assignee_id",
        new=user.id,
        reason=f"{pick.reason} in {group.name}: {user.username}",
        rule_id=code,
    )
    changes.apply_assignment(
        session, engine, incident, group, user, Action.assign, pick.reason, rule_id=code
    )
    if strategy == Strategy.round_robin:
        setting.last_user_id = user.id
        setting.updated_at = clock.now()
    return pick


def set_group_strategy(
    session: Session, actor: Actor, group_id: int, strategy: Strategy
) -> GroupRouting:
    require_admin(actor)
    group = people.get_group(session, group_id)
    setting = queries.get_group_routing(session, group.id, for_update=True)
    if setting is None:
        setting = GroupRouting(group_id=group.id, strategy=strategy.value, updated_at=clock.now())
        session.add(setting)
    setting.strategy = strategy.value
    setting.updated_at = clock.now()
    session.flush()
    return setting


# ----------------------------------------------------------------- admin writes for rules


@dataclass(frozen=True)
class RuleFields:
    name: str
    actions: list[dict[str, Any]]
    description: str = ""
    match: str = "all"
    conditions: list[dict[str, Any]] = field(default_factory=list)
    is_active: bool = True
    on_create: bool = True
    on_update: bool = False
    stop: bool = False
    position: int | None = None


def rule_fields(body: RuleCreate | RulePatch, current: RoutingRule | None) -> RuleFields:
    """A rule's fields: the body's over the current rule's (a patch) or the defaults."""
    given = body.model_dump(exclude_unset=True)
    nulls = [k for k, v in given.items() if v is None and k != "position"]
    if nulls:
        raise InvalidInput(
            "these fields cannot be emptied",
            errors=[{"field": k, "msg": "must not be null"} for k in nulls],
        )
    defaults = RuleFields(name="", actions=[])
    values = {name: given.get(name, getattr(current or defaults, name)) for name in RULE_COLUMNS}
    return RuleFields(**values, position=given.get("position"))


RULE_COLUMNS = (
    "name",
    "description",
    "match",
    "conditions",
    "actions",
    "is_active",
    "on_create",
    "on_update",
    "stop",
)


def check_rule_fields(session: Session, fields: RuleFields) -> None:
    """422 listing every bad path: unknown fields/operators/actions, bad regexes, missing ids."""
    spec, problems = check_rule(fields.match, fields.conditions, fields.actions)
    errors = [{"field": p.path, "msg": p.msg} for p in problems]
    if spec is not None:
        for table, path, ref_id in references(spec).items:
            row = session.get(_TABLES[table], ref_id)
            if row is None:
                errors.append({"field": path, "msg": f"no {table} with id {ref_id}"})
            elif table == "subcategory" and row.parent_id is None:
                errors.append({"field": path, "msg": "is a category, not a subcategory"})
            elif table == "category" and row.parent_id is not None:
                errors.append({"field": path, "msg": "is a subcategory, not a category"})
            elif table == "user" and path.startswith("actions") and row.role == Role.requester:
                errors.append({"field": path, "msg": "is a requester, not an agent"})
    if not (fields.on_create or fields.on_update):
        errors.append({"field": "on_create", "msg": "a rule runs on create, on update, or both"})
    if errors:
        raise InvalidInput("the routing rule is not valid", errors=errors)


def create_rule(session: Session, actor: Actor, fields: RuleFields) -> RoutingRule:
    require_admin(actor)
    check_rule_fields(session, fields)
    rules_now = queries.list_rules(session)
    _unique_name(rules_now, fields.name, None)
    now = clock.now()
    rule = RoutingRule(
        position=len(rules_now),
        created_at=now,
        updated_at=now,
        updated_by_id=actor.user_id,
        **{name: getattr(fields, name) for name in RULE_COLUMNS},
    )
    session.add(rule)
    session.flush()
    ordered = [*rules_now, rule]
    if fields.position is not None:
        ordered.remove(rule)
        ordered.insert(min(fields.position, len(ordered)), rule)
    _renumber(ordered)
    queries.forget_rules(session)
    return rule


def update_rule(
    session: Session, actor: Actor, rule: RoutingRule, fields: RuleFields
) -> RoutingRule:
    require_admin(actor)
    check_rule_fields(session, fields)
    rules_now = queries.list_rules(session)
    _unique_name(rules_now, fields.name, rule.id)
    for name in RULE_COLUMNS:
        setattr(rule, name, getattr(fields, name))
    rule.updated_at = clock.now()
    rule.updated_by_id = actor.user_id
    if fields.position is not None:
        ordered = [r for r in rules_now if r.id != rule.id]
        ordered.insert(min(fields.position, len(ordered)), rule)
        _renumber(ordered)
    session.flush()
    queries.forget_rules(session)
    return rule


def delete_rule(session: Session, actor: Actor, rule: RoutingRule) -> None:
    """Histories keep naming RUL-<id>; the id is never reused (AUTOINCREMENT / sequence)."""
    require_admin(actor)
    session.delete(rule)
    session.flush()
    _renumber(queries.list_rules(session))
    queries.forget_rules(session)


def reorder_rules(session: Session, actor: Actor, ids: list[int]) -> list[RoutingRule]:
    require_admin(actor)
    rules_now = queries.list_rules(session)
    by_id = {r.id: r for r in rules_now}
    if sorted(ids) != sorted(by_id) or len(set(ids)) != len(ids):
        raise InvalidInput(
            "name every rule exactly once, in the new order",
            errors=[{"field": "ids", "msg": f"expected a permutation of {sorted(by_id)}"}],
        )
    ordered = [by_id[i] for i in ids]
    _renumber(ordered)
    session.flush()
    queries.forget_rules(session)
    return ordered


def _renumber(ordered: list[RoutingRule]) -> None:
    for position, rule in enumerate(ordered):
        if rule.position != position:
            rule.position = position


def _unique_name(rules_now: list[RoutingRule], name: str, own_id: int | None) -> None:
    if any(r.name.casefold() == name.casefold() and r.id != own_id for r in rules_now):
        raise Conflict(
            f"a routing rule named {name!r} exists",
            errors=[{"field": "name", "msg": "already used by another rule"}],
        )


def known_actions() -> list[str]:
    return list(ACTIONS)
