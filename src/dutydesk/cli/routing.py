"""`dutydesk routing`: business rules and group assignment strategies, through the routing
services (acting as the system)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from dutydesk.cli.common import (
    JsonOption,
    actor,
    database,
    handled,
    parse_int,
    print_json,
    print_table,
    read_json_object,
    say,
    validated,
)
from dutydesk.people import queries as people
from dutydesk.routing import queries, service
from dutydesk.routing.schemas import RuleCreate, present_rule
from dutydesk.routing.strategies import Strategy

app = typer.Typer(
    help="Business rules (conditions → actions, in order) and group assignment strategies.",
    no_args_is_help=True,
)
rule_app = typer.Typer(help="Routing rules, evaluated in order.", no_args_is_help=True)
app.add_typer(rule_app, name="rule")
COLUMNS = ("id", "pos", "name", "active", "on", "match", "conditions", "actions", "stop")


def _row(rule: dict[str, Any]) -> list[object]:
    when = [w for w, on in (("create", rule["on_create"]), ("update", rule["on_update"])) if on]
    return [
        rule["rule_id"],
        rule["position"],
        rule["name"],
        rule["is_active"],
        when,
        rule["match"],
        [f"{c['field']} {c['op']} {c.get('value', '')}".strip() for c in rule["conditions"]],
        [a["type"] for a in rule["actions"]],
        rule["stop"],
    ]


@rule_app.command("list")
def rule_list(as_json: JsonOption = False) -> None:
    """List the routing rules in evaluation order."""
    with handled(), database().unit_of_work(write=False) as session:
        rows = [present_rule(r) for r in queries.list_rules(session)]
    if as_json:
        print_json(rows)
    else:
        print_table(COLUMNS, [_row(r) for r in rows])


@rule_app.command("add")
def rule_add(
    source: Annotated[
        str, typer.Argument(help="The rule as a JSON object (the API's body), a file, or -")
    ],
) -> None:
    """Add a rule; it is checked as the API checks it (bad paths listed, nothing written)."""
    body = validated(RuleCreate, **read_json_object(source, "the rule"))
    with handled(), database().unit_of_work() as session:
        rule = service.create_rule(session, actor(), service.rule_fields(body, None))
        say(f"added {service.rule_code(rule)} {rule.name} at position {rule.position}")


@rule_app.command("delete")
def rule_delete(rule_id: Annotated[int, typer.Argument(help="The rule's id")]) -> None:
    """Delete a rule (histories keep naming it RUL-<id>)."""
    with handled(), database().unit_of_work() as session:
        service.delete_rule(session, actor(), queries.get_rule(session, rule_id))
    say(f"deleted RUL-{rule_id}")


def _group_id(session: Session, ref: str) -> int:
    if ref.strip().isdigit():
        return people.get_group(session, parse_int(ref, "the group")).id
    return people.get_group_by_name(session, ref).id


@app.command("strategy")
def strategy(
    group: Annotated[str, typer.Argument(help="Support group id or name")],
    chosen: Annotated[Strategy, typer.Argument(help="manual, round_robin or least_loaded")],
) -> None:
    """Set how a group's new incidents get an assignee."""
    with handled(), database().unit_of_work() as session:
        setting = service.set_group_strategy(session, actor(), _group_id(session, group), chosen)
        say(f"group {setting.group_id}: {setting.strategy}")
