"""Admin sections of routing: business rules (conditions and actions as JSON, checked by
`routing.service`) and each support group's assignment strategy. Writes go through
`routing.service`, as `routing/api.py` does."""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor
from dutydesk.admin.forms import Action, Field, Row
from dutydesk.admin.people import yes
from dutydesk.admin.sections import Done, Edit, Section
from dutydesk.kernel.errors import InvalidInput
from dutydesk.kernel.schemas import Input, Name
from dutydesk.people import queries as people
from dutydesk.routing import queries, service
from dutydesk.routing.conditions import ACTIONS, FIELDS, OPERATORS
from dutydesk.routing.schemas import RuleCreate, RulePatch
from dutydesk.routing.strategies import Strategy

log = logging.getLogger("dutydesk.admin")

KEY = "routing-rules"
MATCHES = [("all", "all conditions hold"), ("any", "any condition holds")]
JSON_FIELDS = ("conditions", "actions")
STRATEGY_LABELS = {
    Strategy.manual: "Manual",
    Strategy.round_robin: "Round robin",
    Strategy.least_loaded: "Least loaded",
}


class RuleForm(Input):
    """The rule form: the flags as checkboxes, conditions and actions as JSON text."""

    name: Name
    match: str = "all"
    conditions: str = "[]"
    actions: str = "[]"
    is_active: bool = False
    on_create: bool = False
    on_update: bool = False
    stop: bool = False


# ---------------------------------------------------------------- helpers


def conditions_hint() -> str:
    kinds = {kind: sorted(ops) for kind, ops in OPERATORS.items()}
    fields = "; ".join(
        f"{kind} fields {', '.join(f for f, k in FIELDS.items() if k == kind)} "
        f"take {', '.join(ops)}"
        for kind, ops in kinds.items()
    )
    example = json.dumps([{"field": "short_description", "op": "contains", "value": "vpn"}])
    return f"A JSON list of {{field, op, value}}, e.g. {example}. {fields}."


def actions_hint() -> str:
    listed = ", ".join(f"{name} ({kind})" for name, kind in ACTIONS.items())
    example = json.dumps([{"type": "assign_group", "value": 1}])
    return f"A JSON list of {{type, value}}, e.g. {example}. Actions: {listed}."


def _summary(items: list[dict[str, Any]], keys: tuple[str, ...]) -> str:
    parts = []
    for item in items:
        if isinstance(item, dict):
            parts.append(
                " ".join(
                    json.dumps(item[k]) if k == "value" else str(item[k]) for k in keys if k in item
                )
            )
    return "; ".join(parts) or "—"


def _json_of(form: dict[str, Any]) -> dict[str, Any]:
    """The form's values with conditions and actions parsed; bad JSON is a field error."""
    values = dict(form)
    errors = []
    for name in JSON_FIELDS:
        text = str(values.get(name) or "").strip() or "[]"
        try:
            values[name] = json.loads(text)
        except ValueError as exc:
            errors.append({"field": name, "msg": f"not valid JSON: {exc}"})
            continue
        if not isinstance(values[name], list):
            errors.append({"field": name, "msg": "must be a JSON list"})
    if errors:
        raise InvalidInput("the routing rule is not valid", errors=errors)
    return values


def _placed(exc: InvalidInput) -> InvalidInput:
    """The service's per-path errors (`conditions.2.value`) next to their textarea, the path
    kept in the message."""
    errors = []
    for error in exc.errors:
        path = str(error.get("field", ""))
        top = path.split(".", 1)[0]
        msg = str(error.get("msg", ""))
        if "." in path and top in JSON_FIELDS:
            msg = f"{path}: {msg}"
        errors.append({**error, "field": top, "msg": msg})
    return InvalidInput(exc.detail, errors=errors)


def _body(schema: type[BaseModel], values: dict[str, Any]) -> Any:
    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "msg": e["msg"]} for e in exc.errors()
        ]
        raise InvalidInput("the routing rule is not valid", errors=errors) from exc


# ---------------------------------------------------------------- rules


def rule_rows(session: Session) -> list[Row]:
    rules = queries.list_rules(session)
    rows = []
    for n, r in enumerate(rules):
        moves = []
        if n > 0:
            moves.append(Action("Move up", f"/admin/{KEY}/{r.id}/move/up"))
        if n < len(rules) - 1:
            moves.append(Action("Move down", f"/admin/{KEY}/{r.id}/move/down"))
        cells = (
            str(r.position + 1),
            r.name,
            yes(r.is_active),
            ", ".join(w for w, on in (("create", r.on_create), ("update", r.on_update)) if on),
            yes(r.stop),
            f"if {r.match}: {_summary(r.conditions, ('field', 'op', 'value'))} "
            f"→ {_summary(r.actions, ('type', 'value'))}",
        )
        rows.append(Row(cells, href=f"/admin/{KEY}/{r.id}", actions=tuple(moves)))
    return rows


def rule_fields(session: Session) -> list[Field]:
    return [
        Field("name", "Name", required=True),
        Field("is_active", "Active", "checkbox", value="on"),
        Field("on_create", "Run when an incident is created", "checkbox", value="on"),
        Field("on_update", "Run when an incident is updated", "checkbox"),
        Field("stop", "Stop here: no later rule runs when this one fires", "checkbox"),
        Field("match", "Match", "select", MATCHES),
        Field(
            "conditions",
            "Conditions (JSON)",
            "textarea",
            hint=conditions_hint(),
            value="[]",
            rows=8,
        ),
        Field("actions", "Actions (JSON)", "textarea", hint=actions_hint(), value="[]", rows=6),
    ]


def _write(fn: Any) -> Any:
    try:
        return fn()
    except InvalidInput as exc:
        raise _placed(exc) from exc


def create_rule(session: Session, actor: Actor, body: BaseModel) -> Done:
    def work() -> Any:
        values = _json_of(body.model_dump())
        create = _body(RuleCreate, values)
        return service.create_rule(session, actor, service.rule_fields(create, None))

    rule = _write(work)
    return Done(f"Routing rule {rule.name} was added.")


def edit_rule(session: Session, rule_id: int) -> Edit:
    r = queries.get_rule(session, rule_id)
    values: dict[str, object] = {
        "name": r.name,
        "is_active": r.is_active,
        "on_create": r.on_create,
        "on_update": r.on_update,
        "stop": r.stop,
        "match": r.match,
        "conditions": json.dumps(r.conditions, indent=2),
        "actions": json.dumps(r.actions, indent=2),
    }
    return Edit(heading=f"Routing rule {r.name}", fields=rule_fields(session), values=values)


def update_rule(session: Session, actor: Actor, rule_id: int, body: BaseModel) -> str:
    rule = queries.get_rule(session, rule_id)

    def work() -> Any:
        patch = _body(RulePatch, _json_of(body.model_dump()))
        return service.update_rule(session, actor, rule, service.rule_fields(patch, rule))

    _write(work)
    return f"Routing rule {rule.name} was saved."


def delete_rule(session: Session, actor: Actor, rule_id: int) -> str:
    rule = queries.get_rule(session, rule_id)
    name = rule.name
    service.delete_rule(session, actor, rule)
    return f"Routing rule {name} was deleted."


def move_rule(session: Session, actor: Actor, rule_id: int, up: bool) -> str:
    """Swap the rule with its neighbour (through `reorder_rules`, every id in order)."""
    ids = [r.id for r in queries.list_rules(session)]
    if rule_id not in ids:
        queries.get_rule(session, rule_id)  # the 404
    at = ids.index(rule_id)
    other = at - 1 if up else at + 1
    if 0 <= other < len(ids):
        ids[at], ids[other] = ids[other], ids[at]
        service.reorder_rules(session, actor, ids)
    rule = queries.get_rule(session, rule_id)
    return f"Routing rule {rule.name} is now number {rule.position + 1}."


RULES = Section(
    key=KEY,
    title="Routing rules",
    singular="routing rule",
    headers=("Order", "Name", "Active", "Runs on", "Stop", "Conditions → actions"),
    rows=rule_rows,
    create_fields=rule_fields,
    create_schema=RuleForm,
    create=create_rule,
    edit=edit_rule,
    edit_schema=RuleForm,
    update=update_rule,
    delete=delete_rule,
    hint="Business rules run in order on new and updated incidents; the first to stop ends it.",
)


# ---------------------------------------------------------------- assignment strategies


def strategy_rows(session: Session) -> list[tuple[int, str, str]]:
    """Every support group: (id, name, strategy)."""
    found = []
    for g in people.list_groups(session):
        setting = queries.get_group_routing(session, g.id)
        found.append((g.id, g.name, setting.strategy if setting else Strategy.manual.value))
    return found


def strategy_choices() -> list[tuple[str, str]]:
    return [(s.value, STRATEGY_LABELS.get(s, s.value)) for s in Strategy]


def set_strategy(session: Session, actor: Actor, group_id: int, value: str) -> str:
    try:
        strategy = Strategy(value)
    except ValueError as exc:
        raise InvalidInput(
            "unknown strategy", errors=[{"field": "strategy", "msg": "choose a strategy"}]
        ) from exc
    group = people.get_group(session, group_id)
    setting = queries.get_group_routing(session, group.id)
    before = setting.strategy if setting else Strategy.manual.value
    service.set_group_strategy(session, actor, group.id, strategy)
    log.info(
        "group %s (#%s) assignment strategy %s -> %s by %s",
        group.name,
        group.id,
        before,
        strategy.value,
        actor.name,
    )
    return f"{group.name} now assigns by {STRATEGY_LABELS[strategy].lower()}."
