"""Demo data: loads a realistic service desk into an empty database through the services."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from datetime import timedelta

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.demo import data, queries
from dutydesk.demo.play import play
from dutydesk.demo.reference import create_reference_data
from dutydesk.demo.routing import create_routing
from dutydesk.demo.stories import OLDEST, Plan, plan_incidents
from dutydesk.incidents.lifecycle import Status
from dutydesk.kernel import clock

__all__ = ["load_demo"]

BATCH = 50  # incidents per unit of work
# Reference data predates the oldest incident, so nobody acts before they exist.
SETUP_AGO = OLDEST + timedelta(days=2)


def load_demo(
    db: Database, *, incidents: int = 300, seed: int = 7, settings: Settings | None = None
) -> str:
    """Load the demo into an empty database (no users, no incidents); otherwise change nothing.

    Returns a summary for people, with the demo accounts and their passwords.
    """
    if incidents < 0:
        raise ValueError("the number of incidents cannot be negative")
    settings = settings or Settings()
    started = time.perf_counter()
    now = clock.now()
    # Checked and created in one write transaction: on SQLite a second loader waits for the
    # write lock and then finds users; on PostgreSQL it fails on the unique user names.
    with db.unit_of_work() as session:
        users, existing = queries.count_users_and_incidents(session)
        if users or existing:
            demo = queries.existing_usernames(session, (p.username for p in data.PEOPLE))
            return _not_loaded(users, existing, has_demo_accounts=len(demo) == len(data.PEOPLE))
        with clock.frozen(now - SETUP_AGO):
            refs = create_reference_data(session)
    rng = random.Random(seed)
    window = timedelta(days=settings.reopen_window_days)
    plans = plan_incidents(rng, refs, count=incidents, now=now, reopen_window=window)
    for batch in _batches(plans, BATCH):
        with db.unit_of_work() as session:
            held = queries.load_reference_rows(session)  # cached for the services' lookups
            for plan in batch:
                play(session, refs, plan, settings)
            del held
    with db.unit_of_work() as session:
        create_routing(session)  # routes what people create from now on, not the stories
    with db.unit_of_work(write=False) as session:
        contents = queries.get_contents(session)
    return _summary(contents, seed, time.perf_counter() - started)


def _batches(plans: Sequence[Plan], size: int) -> list[Sequence[Plan]]:
    return [plans[i : i + size] for i in range(0, len(plans), size)]


def _not_loaded(users: int, incidents: int, *, has_demo_accounts: bool) -> str:
    lines = [
        f"The database is not empty ({users} users, {incidents} incidents): "
        "demo data not loaded, nothing changed."
    ]
    if has_demo_accounts:
        lines += ["", "It holds the demo accounts; unless their passwords were changed:"]
        lines += _credentials()
    return "\n".join(lines)


def _summary(c: queries.Contents, seed: int, seconds: float) -> str:
    groups = ", ".join(f"{name} ({tier})" for name, tier in c.groups)
    states = ", ".join(f"{s.value} {c.states[s.value]}" for s in Status if s.value in c.states)
    since = f" opened since {c.first_opened}" if c.first_opened else ""
    lines = [
        f"Demo data loaded in {seconds:.1f} s (seed {seed}):",
        f"  {c.customers} customers, {c.services} services, {c.cis} configuration items, "
        f"{c.categories} categories",
        f"  {len(c.groups)} support groups: {groups}",
        f"  {c.users} users; {c.incidents} incidents{since}, with {c.events} history events "
        f"and {c.comments} comments",
        f"  by state: {states or 'none'}",
        "",
        "Sign in with (demo passwords: change them before any real use):",
        *_credentials(),
    ]
    return "\n".join(lines)


def _credentials() -> list[str]:
    lines = []
    for role, password in data.PASSWORDS.items():
        first = next(p for p in data.PEOPLE if p.role == role)
        lines.append(f"  {role:<17} {first.username:<8} {password}")
    lines.append("  Every user of a role has its password. Who is who:")
    for g in data.GROUPS:
        members = [p.username for p in data.PEOPLE if p.group == g.key]
        lines.append(f"    {g.name} ({g.tier}): {members[0]} (manager), {', '.join(members[1:])}")
    for c in data.CUSTOMERS:
        requesters = ", ".join(p.username for p in data.PEOPLE if p.customer == c.name)
        shares = ", sees all its incidents" if c.share_incidents else ""
        lines.append(f"    {c.name} (requesters{shares}): {requesters}")
    return lines
