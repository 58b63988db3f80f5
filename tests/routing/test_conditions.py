"""The pure rule checks and evaluation, table-driven (no database)."""

from __future__ import annotations

from typing import Any

import pytest

from dutydesk.routing.conditions import (
    MAX_INPUT,
    MAX_PATTERN,
    Ref,
    check_rule,
    describe,
    explain,
    matching,
    references,
)
from dutydesk.routing.strategies import least_loaded, round_robin

VIEW: dict[str, Any] = {
    "short_description": "VPN drops every hour",
    "description": "Since the update the Cisco VPN client disconnects.",
    "channel": "portal",
    "state": "new",
    "impact": 2,
    "urgency": 3,
    "priority": 3,
    "customer": Ref(7, "Acme"),
    "service": None,
    "ci": None,
    "category": Ref(3, "Network"),
    "subcategory": None,
    "caller": Ref(12, "dave"),
    "assignment_group": None,
    "assignee": None,
    "tags": ["vip", "remote"],
}

CASES = [
    # (field, op, value, expected)
    ("short_description", "contains", "vpn", True),
    ("short_description", "contains", "printer", False),
    ("short_description", "equals", "vpn drops every hour", True),
    ("short_description", "not_equals", "vpn drops every hour", False),
    ("channel", "in", ["email", "portal"], True),
    ("channel", "in", ["email", "phone"], False),
    ("description", "regex", r"Cisco\s+VPN", True),
    ("description", "regex", r"^Cisco", False),
    ("impact", "lt", 3, True),
    ("impact", "gt", 2, False),
    ("impact", "gte", 2, True),
    ("urgency", "lte", 2, False),
    ("priority", "equals", 3, True),
    ("priority", "in", [1, 2], False),
    ("customer", "equals", 7, True),
    ("customer", "equals", "acme", True),
    ("customer", "equals", "Globex", False),
    ("customer", "in", [1, "ACME"], True),
    ("category", "contains", "net", True),
    ("category", "regex", "^Net", True),
    ("service", "is_empty", None, True),
    ("service", "is_not_empty", None, False),
    ("service", "equals", 4, False),
    ("service", "not_equals", 4, True),
    ("assignment_group", "contains", "x", False),
    ("tags", "contains", "VIP", True),
    ("tags", "contains", "urgent", False),
    ("tags", "in", ["urgent", "remote"], True),
    ("tags", "is_empty", None, False),
    ("caller", "equals", "dave", True),
]


@pytest.mark.parametrize(("field", "op", "value", "expected"), CASES)
def test_one_condition(field: str, op: str, value: Any, expected: bool) -> None:
    cond: dict[str, Any] = {"field": field, "op": op}
    if value is not None:
        cond["value"] = value
    spec, problems = check_rule("all", [cond], [{"type": "mark_request"}])
    assert problems == [] and spec is not None
    assert (matching(spec, VIEW) is not None) is expected


@pytest.mark.parametrize(
    ("match", "outcomes", "expected"),
    [
        ("all", (True, True), True),
        ("all", (True, False), False),
        ("any", (False, True), True),
        ("any", (False, False), False),
    ],
)
def test_all_and_any(match: str, outcomes: tuple[bool, bool], expected: bool) -> None:
    conds = [
        {"field": "short_description", "op": "contains", "value": "vpn" if ok else "zzz"}
        for ok in outcomes
    ]
    spec, _ = check_rule(match, conds, [{"type": "mark_request"}])
    assert spec is not None
    held = matching(spec, VIEW)
    assert (held is not None) is expected
    if held is not None:
        assert len(held) == sum(outcomes)


def test_no_conditions_applies_to_everything() -> None:
    spec, _ = check_rule("all", [], [{"type": "add_tags", "value": ["x"]}])
    assert spec is not None and matching(spec, VIEW) == []
    assert "applies to every incident" in explain("All", "RUL-1", [])


BAD = [
    ({"field": "colour", "op": "equals", "value": "x"}, "conditions.0.field"),
    ({"field": "impact", "op": "like", "value": "x"}, "conditions.0.op"),
    ({"field": "impact", "op": "contains", "value": "x"}, "conditions.0.op"),
    ({"field": "tags", "op": "equals", "value": "x"}, "conditions.0.op"),
    ({"field": "description", "op": "regex", "value": "(unclosed"}, "conditions.0.value"),
    (
        {"field": "description", "op": "regex", "value": "a" * (MAX_PATTERN + 1)},
        "conditions.0.value",
    ),
    ({"field": "impact", "op": "gt", "value": "high"}, "conditions.0.value"),
    ({"field": "impact", "op": "equals", "value": 9}, "conditions.0.value"),
    ({"field": "channel", "op": "in", "value": []}, "conditions.0.value"),
    ({"field": "channel", "op": "in", "value": ["ok", 3]}, "conditions.0.value.1"),
    ({"field": "service", "op": "is_empty", "value": 3}, "conditions.0.value"),
    ({"field": "service", "op": "equals", "value": True}, "conditions.0.value"),
    ({"field": "service", "op": "equals", "value": 1, "extra": 1}, "conditions.0.extra"),
    ("not an object", "conditions.0"),
]


@pytest.mark.parametrize(("cond", "path"), BAD)
def test_bad_conditions_are_refused_with_their_path(cond: Any, path: str) -> None:
    ok = {"field": "impact", "op": "equals", "value": 1}
    spec, problems = check_rule("all", [ok, ok, cond], [{"type": "mark_request"}])
    shifted = path.replace("conditions.0", "conditions.2")
    assert spec is None and shifted in [p.path for p in problems], problems


def test_the_regex_error_message_is_given() -> None:
    cond = {"field": "description", "op": "regex", "value": "(a"}
    _, problems = check_rule("all", [cond], [{"type": "mark_request"}])
    assert "invalid regular expression: missing ), unterminated subpattern" in problems[0].msg


BAD_ACTIONS = [
    ({"type": "explode"}, "actions.0.type"),
    ({"type": "assign_group", "value": "Network"}, "actions.0.value"),
    ({"type": "set_impact", "value": 0}, "actions.0.value"),
    ({"type": "add_tags", "value": ["ok", "not ok!"]}, "actions.0.value.1"),
    ({"type": "add_tags", "value": []}, "actions.0.value"),
    ({"type": "notify", "value": {}}, "actions.0.value"),
    ({"type": "notify", "value": {"users": ["x"]}}, "actions.0.value.users"),
    ({"type": "mark_request", "value": True}, "actions.0.value"),
]


@pytest.mark.parametrize(("action", "path"), BAD_ACTIONS)
def test_bad_actions_are_refused_with_their_path(action: Any, path: str) -> None:
    spec, problems = check_rule("all", [], [action])
    assert spec is None and path in [p.path for p in problems], problems


def test_rule_level_problems() -> None:
    _, problems = check_rule("some", "x", [])
    assert {p.path for p in problems} == {"match", "conditions", "actions"}
    _, problems = check_rule("any", [], [{"type": "mark_request"}])
    assert [p.path for p in problems] == ["conditions"]


def test_references_name_every_id_with_its_path() -> None:
    spec, _ = check_rule(
        "all",
        [{"field": "assignment_group", "op": "in", "value": [4, "Network"]}],
        [
            {"type": "assign_user", "value": 9},
            {"type": "notify", "value": {"groups": [2], "users": [5]}},
        ],
    )
    assert spec is not None
    assert set(references(spec).items) == {
        ("group", "conditions.0.value.0", 4),
        ("user", "actions.0.value", 9),
        ("user", "actions.1.value.users.0", 5),
        ("group", "actions.1.value.groups.0", 2),
    }


def test_regex_reads_a_bounded_prefix_of_long_text() -> None:
    spec, _ = check_rule(
        "all",
        [{"field": "description", "op": "regex", "value": "needle"}],
        [{"type": "mark_request"}],
    )
    assert spec is not None
    assert matching(spec, {**VIEW, "description": "x" * MAX_INPUT + "needle"}) is None
    assert matching(spec, {**VIEW, "description": "needle" + "x" * MAX_INPUT}) is not None


def test_describe() -> None:
    spec, _ = check_rule(
        "all",
        [
            {"field": "short_description", "op": "contains", "value": "vpn"},
            {"field": "service", "op": "is_empty"},
        ],
        [{"type": "mark_request"}],
    )
    assert spec is not None
    assert [describe(c) for c in spec.conditions] == [
        "short_description contains 'vpn'",
        "service is empty",
    ]


@pytest.mark.parametrize(
    ("available", "last", "expected"),
    [([3, 5, 9], None, 3), ([3, 5, 9], 3, 5), ([3, 5, 9], 9, 3), ([3, 9], 5, 9), ([], 2, None)],
)
def test_round_robin(available: list[int], last: int | None, expected: int | None) -> None:
    assert round_robin(available, last).user_id == expected


@pytest.mark.parametrize(
    ("loads", "expected"),
    [
        ({1: (5, 1), 2: (2, 2)}, 2),  # one P1 weighs more than two P4s
        ({1: (3, 1), 2: (3, 3)}, 1),  # equal weight: fewer incidents
        ({4: (0, 0), 2: (0, 0)}, 2),  # all equal: lowest id
        ({}, None),
    ],
)
def test_least_loaded(loads: dict[int, tuple[int, int]], expected: int | None) -> None:
    assert least_loaded(loads).user_id == expected
