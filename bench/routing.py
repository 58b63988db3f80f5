"""Benchmark: what business rules and an assignment strategy cost per incident created.

In process, on a fresh SQLite file (synchronous NORMAL, so fsync does not drown the
difference): `incidents.service.open_incident` in its own unit of work per incident, as the
group commit runs a lone request. Baseline: no routing rule, manual groups. Against it, in
the same run and alternating: 20 active rules of which none matches, and the same 20 with one
matching rule that assigns a group whose round-robin strategy then picks a member; and, as the
fair baseline of that one, no rules with the same group and a member given in the request
("by_hand": the same assignment, SLA/OLA clocks and notification, without routing). Prints
the median CPU time per create and the ratio baseline/variant (1.0 = free).
"""

from __future__ import annotations

import argparse
import tempfile
import time

from _common import banner, median, say, table

from dutydesk.access.policy import system_actor
from dutydesk.config import Settings
from dutydesk.db import Database, make_engine
from dutydesk.incidents import service as incidents
from dutydesk.incidents.schemas import IncidentCreate
from dutydesk.migrate import upgrade
from dutydesk.models import RoutingRule
from dutydesk.people import queries as people_queries
from dutydesk.people import service as people
from dutydesk.routing import service as routing
from dutydesk.routing.strategies import Strategy


def setup(db: Database) -> tuple[int, int]:
    actor = system_actor()
    with db.unit_of_work() as s:
        customer = people.create_customer(s, actor, name="Acme")
        caller = people.add_user(
            s,
            actor,
            username="caller",
            email="caller@example.com",
            role="requester",
            customer_id=customer.id,
        )
        group = people.create_group(s, actor, name="Network", tier="l2")
        for i in range(5):
            agent = people.add_user(
                s, actor, username=f"agent{i}", email=f"a{i}@example.com", role="agent"
            )
            people.add_member(s, actor, group, agent)
        routing.set_group_strategy(s, actor, group.id, Strategy.round_robin)
        s.flush()
        return caller.id, group.id


def member_of(db: Database, group_id: int) -> int:
    with db.unit_of_work(write=False) as s:
        return people_queries.list_group_member_ids(s, group_id)[0]


def set_rules(db: Database, variant: str, group_id: int) -> None:
    actor = system_actor()
    with db.unit_of_work() as s:
        for rule in s.query(RoutingRule).all():
            routing.delete_rule(s, actor, rule)
        if variant in ("baseline", "by_hand"):
            return
        for i in range(20):
            routing.create_rule(
                s,
                actor,
                routing.RuleFields(
                    name=f"rule {i}",
                    match="any",
                    conditions=[
                        {"field": "short_description", "op": "regex", "value": rf"\bcode{i}\b"},
                        {"field": "priority", "op": "equals", "value": 1},
                    ],
                    actions=[{"type": "add_tags", "value": [f"t{i}"]}],
                ),
            )
        if variant == "matching":
            routing.create_rule(
                s,
                actor,
                routing.RuleFields(
                    name="bench",
                    conditions=[{"field": "short_description", "op": "contains", "value": "vpn"}],
                    actions=[{"type": "assign_group", "value": group_id}],
                ),
            )


def run(
    db: Database, caller_id: int, count: int, settings: Settings, by_hand: tuple[int, int] | None
) -> float:
    actor = system_actor(channel="api")
    started = time.process_time()
    for n in range(count):
        data = IncidentCreate(
            short_description=f"vpn bench {n}", caller_id=caller_id, impact=2, urgency=2
        )
        if by_hand is not None:  # the same group and a member, given in the request
            data = data.model_copy(
                update={"assignment_group_id": by_hand[0], "assignee_id": by_hand[1]}
            )
        with db.unit_of_work() as s:
            incidents.open_incident(s, actor, data, settings=settings)
    return (time.process_time() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", type=int, default=200, help="incidents per run")
    args = parser.parse_args()
    banner("routing: cost of rules and a strategy per create (SQLite, in process)")
    settings = Settings(database_url="sqlite://")
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db", sqlite_synchronous="NORMAL")
        upgrade(engine)
        db = Database(engine)
        caller_id, group_id = setup(db)
        member = member_of(db, group_id)
        variants = ("baseline", "no_match", "by_hand", "matching")
        times: dict[str, list[float]] = {v: [] for v in variants}
        for _ in range(args.runs):
            for variant in variants:
                set_rules(db, variant, group_id)
                hand = (group_id, member) if variant == "by_hand" else None
                times[variant].append(run(db, caller_id, args.count, settings, hand))
        engine.dispose()
    base, hand = median(times["baseline"]), median(times["by_hand"])
    rows = [
        [v, f"{median(t) * 1000:.2f}", f"{base / median(t):.2f}", f"{hand / median(t):.2f}"]
        for v, t in times.items()
    ]
    say(table(["variant", "CPU ms/create (median)", "baseline/variant", "by_hand/variant"], rows))


if __name__ == "__main__":
    main()
