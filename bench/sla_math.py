"""Benchmark: SLA deadlines per second with ``add_business_seconds``.

The calendar is Europe/Berlin, Monday-Friday 08:00-17:00 with German (nationwide) public
holidays. ``--n`` cases: starts uniformly random over 2026 (UTC, whole seconds), targets
uniformly random from 1 business hour to 5 business days (45 business hours), whole seconds;
fixed ``--seed``, so every run computes the same deadlines. After one cold pass (which fills
the caches: offsets, holidays, per-date and per-week intervals) and a check that every
deadline measures back to its target, ``--runs`` timed passes of ``add_business_seconds``
alternate with timed passes of the naive deadline ``start + timedelta(seconds=target)`` over
the same cases. Printed: each run, the medians, and the ratio business/naive; then the
median time per deadline for a few fixed target sizes.

    .venv/bin/python bench/sla_math.py
    .venv/bin/python bench/sla_math.py --runs 9 --n 50000
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import banner, machine_info, median, say, table

if importlib.util.find_spec("dutydesk") is None:  # a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from dutydesk.sla.business_time import add_business_seconds, business_seconds_between, clear_caches
from dutydesk.sla.calendar import Calendar
from dutydesk.sla.calendar_config import calendar_from_config

Case = tuple[datetime, float]
HOUR = 3600
DAY_HOURS = 9  # 08:00-17:00


def office_calendar() -> Calendar:
    weekday = ["08:00-17:00"]
    return calendar_from_config(
        {
            "timezone": "Europe/Berlin",
            "hours": {"mon": weekday, "tue": weekday, "wed": weekday, "thu": weekday,
                      "fri": weekday},
            "holidays": {"country": "DE"},
        }
    )  # fmt: skip


def make_cases(n: int, seed: int, low: int, high: int) -> list[Case]:
    rng = random.Random(seed)
    year = datetime(2026, 1, 1, tzinfo=UTC)
    seconds_in_year = 365 * 86_400
    return [
        (year + timedelta(seconds=rng.randrange(seconds_in_year)), float(rng.randint(low, high)))
        for _ in range(n)
    ]


def timed(fn: Callable[[], object]) -> float:
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    finally:
        gc.enable()


def business_pass(cal: Calendar, cases: Sequence[Case]) -> Callable[[], object]:
    def run() -> object:
        add = add_business_seconds
        for start, seconds in cases:
            add(cal, start, seconds)
        return None

    return run


def naive_pass(cases: Sequence[Case]) -> Callable[[], object]:
    def run() -> object:
        for start, seconds in cases:
            start + timedelta(seconds=seconds)  # the baseline's whole work
        return None

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed passes of each kind")
    parser.add_argument("--n", type=int, default=20_000, help="deadlines per pass")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    banner("sla_math: add_business_seconds vs start + timedelta (same cases, same run)")
    say(machine_info())
    cal = office_calendar()
    cases = make_cases(args.n, args.seed, HOUR, 5 * DAY_HOURS * HOUR)
    say(
        f"calendar: Europe/Berlin, Mon-Fri 08:00-17:00, DE public holidays; {args.n:,} random "
        "starts over 2026, targets 1 h .. 5 business days (45 business hours)"
    )

    clear_caches()
    cold = timed(business_pass(cal, cases))
    say(f"cold pass (fills the caches): {args.n / cold:,.0f} deadlines/s ({cold:.3f} s)")
    bad = [
        (start, seconds)
        for start, seconds in cases
        if business_seconds_between(cal, start, add_business_seconds(cal, start, seconds))
        != seconds
    ]
    say(
        f"check: business_seconds_between(start, deadline) == target for all {args.n:,} "
        f"cases: {'OK' if not bad else f'{len(bad)} MISMATCHES, e.g. {bad[0]}'}"
    )

    rows = []
    business_rates: list[float] = []
    naive_rates: list[float] = []
    for run in range(1, args.runs + 1):
        for kind, fn, rates in (
            ("naive", naive_pass(cases), naive_rates),
            ("business", business_pass(cal, cases), business_rates),
        ):
            seconds = timed(fn)
            rates.append(args.n / seconds)
            rows.append([run, kind, f"{args.n / seconds:,.0f}", f"{seconds / args.n * 1e6:.2f}"])
    say("")
    say(table(["run", "kind", "deadlines/s", "µs/deadline"], rows))

    business, naive = median(business_rates), median(naive_rates)
    say("")
    say(
        table(
            ["median of runs", "deadlines/s", "µs/deadline"],
            [
                ["add_business_seconds", f"{business:,.0f}", f"{1e6 / business:.2f}"],
                ["start + timedelta", f"{naive:,.0f}", f"{1e6 / naive:.3f}"],
                ["ratio business/naive", f"{business / naive:.4f}", f"x{naive / business:.1f}"],
            ],
        )
    )

    say("")
    sizes = []
    for label, hours in (("1 h", 1), ("1 day (9 h)", 9), ("3 days", 27), ("5 days", 45)):
        fixed = [(start, float(hours * HOUR)) for start, _ in cases[:5000]]
        business_pass(cal, fixed)()  # warm
        per_call = median([timed(business_pass(cal, fixed)) / len(fixed) for _ in range(5)])
        sizes.append([label, f"{per_call * 1e6:.2f}"])
    say(table(["target", "µs/deadline (warm, median of 5)"], sizes))
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
