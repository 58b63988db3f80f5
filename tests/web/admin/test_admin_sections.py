"""The admin screens through the TestClient: every section's list, create (valid and
invalid), edit, the special screens, and who may open them."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from dutydesk.access.policy import system_actor
from dutydesk.db import Database
from dutydesk.escalation import admin as escalation_admin
from dutydesk.people import service as people_service
from tests.factories import Cast
from tests.web.conftest import row_counts, sign_in

# section key → (valid form, text visible in the list afterwards, invalid form, field, error)
CREATES: dict[str, tuple[dict[str, str], str, dict[str, str], str, str]] = {
    "users": (
        {"username": "frank", "email": "frank@example.com", "role": "agent", "full_name": "Frank"},
        "frank@example.com",
        {"username": "x y", "email": "nope", "role": "agent"},
        "username",
        "letters, digits",
    ),
    "tokens": (
        {"name": "monitoring bridge", "scope": "read"},
        "monitoring bridge",
        {"name": "  ", "scope": "read"},
        "name",
        "must not be blank",
    ),
    "groups": (
        {"name": "Network Team", "tier": "l2", "description": "Routers"},
        "Network Team",
        {"name": "Network Team", "tier": "l9"},
        "tier",
        "l1",
    ),
    "customers": (
        {"name": "Initech", "description": "TPS reports", "share_incidents": "on"},
        "Initech",
        {"name": "", "description": "x"},
        "name",
        "at least 1 character",
    ),
    "services": (
        {"name": "Payroll", "description": "Monthly pay", "customer_id": "", "owner_group_id": ""},
        "Payroll",
        {"name": "Payroll", "customer_id": "abc"},
        "customer_id",
        "valid integer",
    ),
    "cis": (
        {"name": "db01", "ci_class": "database", "criticality": "critical"},
        "db01",
        {"name": "db01", "ci_class": "database", "criticality": "extreme"},
        "criticality",
        "low",
    ),
    "categories": (
        {"name": "Software", "parent_id": ""},
        "Software",
        {"name": "", "parent_id": ""},
        "name",
        "at least 1 character",
    ),
    "calendars": (
        {
            "name": "Munich office",
            "timezone": "Europe/Berlin",
            "hours_mon": "08:00-12:00, 13:00-17:00",
            "holiday_country": "de",
            "holiday_subdivision": "by",
            "closed_days": "2026-12-24\n2026-12-31",
            "open_days": "2026-12-27 09:00-13:00",
        },
        "Munich office",
        {"name": "Munich office", "timezone": "Europe/Berlin", "hours_tue": "25:00-26:00"},
        "hours_tue",
        "out of range",
    ),
    "policies": (
        {
            "name": "Gold P1",
            "priority": "1",
            "calendar_id": "1",
            "response_seconds": "30",
            "resolution_seconds": "240",
            "warn_percents": "50, 90",
            "pause_states": "pending_user",
            "active": "on",
        },
        "Gold P1",
        {
            "name": "Gold P1",
            "calendar_id": "1",
            "resolution_seconds": "60",
            "warn_percents": "50, 150",
        },
        "warn_percents",
        "between 1 and 99",
    ),
    "olas": (
        {"group_id": "{desk}", "priority": "2", "calendar_id": "1", "resolution_seconds": "90"},
        "Service Desk",
        {"group_id": "{desk}", "calendar_id": "1", "resolution_seconds": ""},
        "resolution_seconds",
        "valid integer",
    ),
    "integrations": (
        {
            "name": "Prometheus",
            "kind": "alertmanager",
            "correlation_seconds": "30",
            "flap_changes": "6",
            "flap_window_seconds": "60",
            "auto_resolve": "on",
        },
        "Prometheus",
        {"name": "Prometheus", "kind": "alertmanager", "flap_changes": "1"},
        "flap_changes",
        "greater than or equal to 2",
    ),
    "maintenance": (
        {
            "name": "Patch night",
            "starts_at": "2026-12-10T22:00",
            "ends_at": "2026-12-11T02:00",
            "service_id": "{service}",
        },
        "Patch night",
        {"name": "Patch night", "starts_at": "2026-12-10T22:00", "ends_at": "2026-12-10T21:00"},
        "ends_at",
        "after starts_at",
    ),
}


def filled(form: dict[str, str], cast: Cast) -> dict[str, str]:
    ids = {"desk": cast.desk.id, "service": cast.email_service.id}
    return {k: v.format(**ids) for k, v in form.items()}


def field_error(html: str, name: str) -> str:
    found = re.search(rf'<span class="field__error" id="{name}-error">([^<]*)</span>', html)
    assert found, f"no error next to {name}"
    return found.group(1)


def test_the_index_lists_every_section_with_counts(client: TestClient, cast: Cast) -> None:
    sign_in(client, "bob")
    page = client.get("/admin")
    assert page.status_code == 200
    for key in CREATES:
        assert f'href="/admin/{key}"' in page.text
    assert 'href="/admin/priority-matrix"' in page.text
    assert re.search(r'href="/admin/customers">Customers</a>\s*<span[^>]*>2</span>', page.text)
    assert 'href="/admin" aria-current="page"' in page.text  # the admin menu entry


@pytest.mark.parametrize("key", list(CREATES))
def test_a_valid_create_is_listed_afterwards(client: TestClient, cast: Cast, key: str) -> None:
    csrf = sign_in(client, "bob")
    assert client.get(f"/admin/{key}").status_code == 200
    form = client.get(f"/admin/{key}/new")
    assert form.status_code == 200 and 'name="csrf_token"' in form.text
    valid, visible, _invalid, _field, _error = CREATES[key]
    assert visible not in client.get(f"/admin/{key}").text
    done = client.post(f"/admin/{key}/new", data={**filled(valid, cast), "csrf_token": csrf})
    assert done.status_code in (200, 201), done.text
    if key == "tokens":  # shown once, then listed without it
        secret = re.search(r'id="secret" type="text" readonly value="([^"]+)"', done.text)
        assert secret and done.status_code == 201
        listing = client.get("/admin/tokens").text
        assert secret.group(1) not in listing and visible in listing
        return
    assert "was added" in done.text or "was created" in done.text, done.text  # the flash
    assert visible in client.get(f"/admin/{key}").text


@pytest.mark.parametrize("key", list(CREATES))
def test_an_invalid_create_shows_the_field_error_and_writes_nothing(
    client: TestClient, cast: Cast, db: Database, key: str
) -> None:
    csrf = sign_in(client, "bob")
    _valid, _visible, invalid, field, error = CREATES[key]
    before = row_counts(db)
    refused = client.post(f"/admin/{key}/new", data={**filled(invalid, cast), "csrf_token": csrf})
    assert refused.status_code == 422
    assert error.lower() in field_error(refused.text, field).lower()
    assert row_counts(db) == before


@pytest.mark.parametrize("key", [*CREATES, "priority-matrix", "logging-checklist", "templates"])
def test_only_admins_open_the_admin_screens(client: TestClient, cast: Cast, key: str) -> None:
    csrf = sign_in(client, "ivy")  # an incident manager: staff, not an admin
    page = client.get(f"/admin/{key}")
    assert page.status_code == 403 and "You do not have access" in page.text
    refused = client.post(f"/admin/{key}/new", data={"name": "x", "csrf_token": csrf})
    assert refused.status_code == 403
    assert client.get("/admin").status_code == 403
    assert 'href="/admin"' not in client.get("/account").text


def test_requesters_get_the_403_page(client: TestClient, cast: Cast) -> None:
    sign_in(client, "dave")
    assert client.get("/admin/users").status_code == 403
    assert client.get(f"/admin/users/{cast.bob.user.id}").status_code == 403


def test_a_conflict_is_shown_above_the_form(client: TestClient, cast: Cast, db: Database) -> None:
    csrf = sign_in(client, "bob")
    before = row_counts(db)
    refused = client.post(
        "/admin/customers/new", data={"name": "Acme", "description": "", "csrf_token": csrf}
    )
    assert refused.status_code == 422 and "already exists" in refused.text
    assert 'class="alert alert--error"' in refused.text
    assert row_counts(db) == before


def test_a_service_error_lands_next_to_its_field(client: TestClient, cast: Cast) -> None:
    csrf = sign_in(client, "bob")
    form = {"username": "rita", "email": "rita@example.com", "role": "requester"}
    refused = client.post("/admin/users/new", data={**form, "csrf_token": csrf})
    assert refused.status_code == 422
    assert "belongs to a customer" in field_error(refused.text, "customer_id")


def test_search_and_sort_and_the_empty_states(client: TestClient, cast: Cast) -> None:
    sign_in(client, "bob")
    found = client.get("/admin/users", params={"q": "ALICE"})
    assert "alice@example.com" in found.text and "dave@example.com" not in found.text
    none = client.get("/admin/users", params={"q": "zzz"})
    assert "Nothing matches" in none.text
    desc = client.get("/admin/users", params={"sort": 0, "desc": "true"}).text
    assert desc.index("ivy@example.com") < desc.index("alice@example.com")
    assert 'aria-sort="descending"' in desc
    fragment = client.get("/admin/users", params={"q": "eve"}, headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<div id="results">')


def test_edit_pages_save_through_the_services(client: TestClient, cast: Cast) -> None:
    csrf = sign_in(client, "bob")
    uid = cast.alice.user.id
    assert 'value="agent" selected' in client.get(f"/admin/users/{uid}").text
    saved = client.post(
        f"/admin/users/{uid}", data={"role": "incident_manager", "csrf_token": csrf}
    )
    assert "User alice was saved." in saved.text
    assert 'value="incident_manager" selected' in client.get(f"/admin/users/{uid}").text
    bad = client.post(f"/admin/users/{uid}", data={"role": "king", "csrf_token": csrf})
    assert bad.status_code == 422 and field_error(bad.text, "role")

    cid = cast.acme.id
    client.post(f"/admin/customers/{cid}", data={"description": "Road runners", "csrf_token": csrf})
    page = client.get(f"/admin/customers/{cid}").text
    assert "Road runners" in page and 'id="is_active" name="is_active" checked' not in page

    ci = cast.mail_server.id
    emptied = client.post(
        f"/admin/cis/{ci}", data={"ci_class": "", "criticality": "low", "csrf_token": csrf}
    )
    assert emptied.status_code == 422 and field_error(emptied.text, "ci_class")
    sid = cast.email_service.id
    client.post(
        f"/admin/services/{sid}",
        data={"description": "Mail", "customer_id": str(cast.acme.id), "csrf_token": csrf},
    )
    assert f'value="{cast.acme.id}" selected' in client.get(f"/admin/services/{sid}").text
    assert client.get("/admin/categories/1").status_code == 404  # no edit page
    assert client.get("/admin/nothing").status_code == 404
    assert client.get("/admin/users/999999").status_code == 404


def test_user_actions(client: TestClient, second: TestClient, cast: Cast) -> None:
    csrf = sign_in(client, "bob")
    sign_in(second, "eve")
    uid = cast.eve.user.id
    ended = client.post(f"/admin/users/{uid}/revoke-sessions", data={"csrf_token": csrf})
    assert "1 browser session(s) of eve were ended." in ended.text
    assert second.get("/queues", follow_redirects=False).status_code == 303
    link = client.post(f"/admin/users/{uid}/reset-link", data={"csrf_token": csrf})
    assert "A password reset link was mailed to eve@example.com." in link.text
    page = client.get(f"/admin/users/{uid}").text
    assert 'data-confirm="Disable eve?' in page
    off = client.post(f"/admin/users/{uid}/disable", data={"csrf_token": csrf})
    assert "User eve was disabled" in off.text and "(disabled)" in off.text
    eve = cast.eve.headers
    assert client.get("/api/v1/me", headers=eve).status_code == 401


def test_tokens_are_revoked(client: TestClient, cast: Cast) -> None:
    csrf = sign_in(client, "bob")
    listing = client.get("/admin/tokens").text
    first = re.search(r'action="/admin/tokens/(\d+)/revoke"', listing)
    assert first and 'data-confirm="Revoke the token' in listing
    done = client.post(f"/admin/tokens/{first.group(1)}/revoke", data={"csrf_token": csrf})
    assert "was revoked" in done.text
    assert f'action="/admin/tokens/{first.group(1)}/revoke"' not in done.text


def test_group_members(client: TestClient, cast: Cast) -> None:
    csrf = sign_in(client, "bob")
    gid, uid = cast.infra.id, cast.eve.user.id
    assert "No members yet." in client.get(f"/admin/groups/{gid}").text
    added = client.post(
        f"/admin/groups/{gid}/members", data={"user_id": str(uid), "csrf_token": csrf}
    )
    assert "eve is now a member of Infrastructure." in added.text
    requester = client.post(
        f"/admin/groups/{gid}/members",
        data={"user_id": str(cast.dave.user.id), "csrf_token": csrf},
    )
    assert "Requesters cannot be members" in requester.text
    removed = client.post(f"/admin/groups/{gid}/members/{uid}/remove", data={"csrf_token": csrf})
    assert "eve was removed from Infrastructure." in removed.text
    saved = client.post(f"/admin/groups/{gid}", data={"tier": "l2", "csrf_token": csrf})
    assert "Group Infrastructure was saved." in saved.text


def test_priority_matrix(client: TestClient, cast: Cast, db: Database) -> None:
    csrf = sign_in(client, "bob")
    page = client.get("/admin/priority-matrix")
    assert page.status_code == 200 and page.text.count("<select") == 9
    cells = {f"cell-{i}-{u}": str(min(5, 1 + i + u)) for i in range(3) for u in range(3)}
    saved = client.post("/admin/priority-matrix", data={**cells, "levels": "3", "csrf_token": csrf})
    assert "The priority matrix was saved." in saved.text
    before = row_counts(db)
    broken = {**cells, "cell-0-0": "7"}  # refused by the service, as through the API
    refused = client.post(
        "/admin/priority-matrix", data={**broken, "levels": "3", "csrf_token": csrf}
    )
    assert refused.status_code == 422 and "priority 7 is not a whole number" in refused.text
    small = {f"cell-{i}-{u}": "3" for i in range(2) for u in range(2)}
    two = client.post("/admin/priority-matrix", data={**small, "levels": "2", "csrf_token": csrf})
    assert two.status_code == 422 and "3, 4 or 5 rows" in two.text
    junk = client.post("/admin/priority-matrix", data={"levels": "3", "csrf_token": csrf})
    assert junk.status_code == 422 and "Every cell needs a priority" in junk.text
    assert row_counts(db) == before


def test_logging_checklist(client: TestClient, cast: Cast, db: Database) -> None:
    csrf = sign_in(client, "bob")
    page = client.get("/admin/logging-checklist")
    assert page.status_code == 200 and 'value="service"' in page.text
    saved = client.post(
        "/admin/logging-checklist",
        data={"required": ["service", "caller"], "csrf_token": csrf},
    )
    assert "The logging checklist was saved." in saved.text
    assert 'value="service" checked' in saved.text
    before = row_counts(db)
    refused = client.post(
        "/admin/logging-checklist", data={"required": ["shoe_size"], "csrf_token": csrf}
    )
    assert refused.status_code == 422 and "Not one of short_description" in refused.text
    assert row_counts(db) == before


def test_a_calendar_round_trips_through_its_form(client: TestClient, cast: Cast) -> None:
    csrf = sign_in(client, "bob")
    valid = CREATES["calendars"][0]
    client.post("/admin/calendars/new", data={**valid, "csrf_token": csrf})
    listing = client.get("/admin/calendars").text
    found = re.search(r'href="/admin/calendars/(\d+)">Munich office', listing)
    assert found and "DE-BY" in listing
    page = client.get(f"/admin/calendars/{found.group(1)}").text
    assert 'value="08:00-12:00, 13:00-17:00"' in page and "2026-12-27 09:00-13:00" in page
    bad = client.post(
        f"/admin/calendars/{found.group(1)}",
        data={**valid, "holiday_country": "XX", "csrf_token": csrf},
    )
    assert bad.status_code == 422 and field_error(bad.text, "holiday_country")
    lines = client.post(
        f"/admin/calendars/{found.group(1)}",
        data={**valid, "open_days": "2026-12-27", "csrf_token": csrf},
    )
    assert "write a date and its hours" in field_error(lines.text, "open_days")
    gone = client.post(f"/admin/calendars/{found.group(1)}/delete", data={"csrf_token": csrf})
    assert "Calendar Munich office was deleted." in gone.text
    in_use = client.post("/admin/calendars/1/delete", data={"csrf_token": csrf})
    assert "flash--error" in in_use.text and client.get("/admin/calendars/1").status_code == 200


def test_policy_edit_keeps_minutes_and_lists(client: TestClient, cast: Cast) -> None:
    csrf = sign_in(client, "bob")
    client.post("/admin/policies/new", data={**CREATES["policies"][0], "csrf_token": csrf})
    listing = client.get("/admin/policies").text
    found = re.search(r'href="/admin/policies/(\d+)">Gold P1', listing)
    assert found
    page = client.get(f"/admin/policies/{found.group(1)}").text
    assert 'value="240"' in page and 'value="50, 90"' in page
    assert 'value="pending_user" checked' in page and 'value="pending_vendor" checked' not in page
    saved = client.post(
        f"/admin/policies/{found.group(1)}",
        data={**CREATES["policies"][0], "resolution_seconds": "480", "csrf_token": csrf},
    )
    assert "SLA policy Gold P1 was saved." in saved.text and ">480<" in saved.text


def test_closure_checks_and_endpoints(client: TestClient, cast: Cast, db: Database) -> None:
    csrf = sign_in(client, "bob")
    form = {"key": "ci_recorded", "label": "CI recorded", "kind": "field", "field": "ci"}
    made = client.post(
        "/admin/closure-checks/new", data={**form, "position": "5", "csrf_token": csrf}
    )
    assert "Closure check CI recorded was added." in made.text
    before = row_counts(db)
    manual = {**form, "key": "called_back", "kind": "manual", "position": "1", "csrf_token": csrf}
    refused = client.post("/admin/closure-checks/new", data=manual)
    assert refused.status_code == 422 and "no field" in field_error(refused.text, "field")
    assert row_counts(db) == before

    endpoint = {
        "name": "Ops webhook",
        "url": "https://hooks.example.com/dutydesk",
        "kind": "webhook",
        "events": ["assigned", "sla_breached"],
        "csrf_token": csrf,
    }
    shown = client.post("/admin/endpoints/new", data=endpoint)
    secret = re.search(r'id="secret" type="text" readonly value="([^"]+)"', shown.text)
    assert shown.status_code == 201 and secret
    listing = client.get("/admin/endpoints").text
    assert "Ops webhook" in listing and secret.group(1) not in listing
    assert "assigned, sla_breached" in listing
    before = row_counts(db)
    bad = client.post("/admin/endpoints/new", data={**endpoint, "name": "Other", "url": "ftp://x"})
    assert bad.status_code == 422 and field_error(bad.text, "url")
    assert row_counts(db) == before


def test_templates_are_previewed_saved_and_reset(
    client: TestClient, cast: Cast, db: Database
) -> None:
    csrf = sign_in(client, "bob")
    listing = client.get("/admin/templates")
    found = re.search(r'href="(/admin/templates/assigned/email)"', listing.text)
    assert listing.status_code == 200 and found
    url = found.group(1)
    page = client.get(url)
    assert page.status_code == 200 and "built-in" in page.text
    text = {"subject": "New: {{ incident.number }}", "body": "Hello {{ incident.number }}"}
    before = row_counts(db)
    preview = client.post(f"{url}/preview", data={**text, "csrf_token": csrf})
    assert preview.status_code == 200 and "Hello INC0000123" in preview.text
    broken = client.post(url, data={**text, "body": "{% if %}", "csrf_token": csrf})
    assert broken.status_code == 422 and field_error(broken.text, "body")
    assert row_counts(db) == before
    saved = client.post(url, data={**text, "csrf_token": csrf})
    assert "template was saved" in saved.text and "customised" in saved.text
    reset = client.post(f"{url}/reset", data={"csrf_token": csrf})
    assert "The built-in template is used again." in reset.text
    assert client.get("/admin/templates/nothing/email").status_code == 404


def test_integration_tokens_are_rotated_and_revoked(client: TestClient, cast: Cast) -> None:
    csrf = sign_in(client, "bob")
    created = client.post(
        "/admin/integrations/new",
        data={**CREATES["integrations"][0], "csrf_token": csrf},
    )
    first = re.search(r'readonly value="([^"]+)"', created.text)
    assert created.status_code == 201 and first
    listing = client.get("/admin/integrations").text
    found = re.search(r'action="/admin/integrations/(\d+)/rotate"', listing)
    assert found
    iid = found.group(1)
    rotated = client.post(f"/admin/integrations/{iid}/rotate", data={"csrf_token": csrf})
    second = re.search(r'readonly value="([^"]+)"', rotated.text)
    assert second and second.group(1) != first.group(1)
    revoked = client.post(f"/admin/integrations/{iid}/revoke", data={"csrf_token": csrf})
    assert "The token of Prometheus was revoked." in revoked.text and "revoked 20" in revoked.text
    page = client.get(f"/admin/integrations/{iid}").text
    assert 'value="30"' in page  # correlation window in minutes
    window = client.post(
        "/admin/maintenance/new",
        data={**filled(CREATES["maintenance"][0], cast), "integration_id": iid, "csrf_token": csrf},
    )
    assert "Maintenance window Patch night was added." in window.text
    assert "2026-12-10 22:00" in window.text


def test_escalation_paths_keep_their_step_order(
    client: TestClient, cast: Cast, db: Database
) -> None:
    csrf = sign_in(client, "bob")
    form = {
        "name": "Mail path",
        "service_id": str(cast.email_service.id),
        "active": "on",
        "step_1": str(cast.desk.id),
        "step_1_auto": "on",
        "step_3": str(cast.apps.id),  # an empty row in between is skipped
        "csrf_token": csrf,
    }
    made = client.post("/admin/escalation-paths/new", data=form)
    assert "Escalation path Mail path was added." in made.text
    assert "Service Desk (auto) → Application Support" in made.text
    before = row_counts(db)
    twice = {**form, "name": "Twice", "step_3": str(cast.desk.id)}
    refused = client.post("/admin/escalation-paths/new", data=twice)
    assert refused.status_code == 422 and "already step 1" in field_error(refused.text, "step_3")
    none = client.post("/admin/escalation-paths/new", data={"name": "Empty", "csrf_token": csrf})
    assert none.status_code == 422 and field_error(none.text, "step_1")
    assert row_counts(db) == before


def test_escalation_levels(client: TestClient, cast: Cast, db: Database) -> None:
    csrf = sign_in(client, "bob")
    form = {
        "name": "Late P1",
        "priority": "1",
        "trigger": "percent",
        "clock": "resolution",
        "percent": "80",
        "notify_group_manager": "on",
        "notify_user_ids": [str(cast.ivy.user.id)],
        "active": "on",
        "csrf_token": csrf,
    }
    made = client.post("/admin/escalation-levels/new", data=form)
    assert "Escalation level Late P1 was added." in made.text and "80% of resolution" in made.text
    before = row_counts(db)
    refused = client.post(
        "/admin/escalation-levels/new", data={**form, "name": "Delay", "trigger": "delay"}
    )
    assert refused.status_code == 422 and field_error(refused.text, "delay_seconds")
    assert row_counts(db) == before


def test_a_path_longer_than_the_form_is_not_cut_short(
    client: TestClient, cast: Cast, db: Database
) -> None:
    actor = system_actor()
    with db.unit_of_work() as s:
        groups = [
            people_service.create_group(s, actor, name=f"L1 team {n}", tier="l1") for n in range(7)
        ]
        s.flush()
        steps = [{"level": i, "group_id": g.id, "auto": False} for i, g in enumerate(groups, 1)]
        path = escalation_admin.create_path(s, actor, {"name": "Long", "steps": steps})
        path_id = path.id
    csrf = sign_in(client, "bob")
    form = {"name": "Long", "active": "on", "step_1": str(groups[0].id), "csrf_token": csrf}
    refused = client.post(f"/admin/escalation-paths/{path_id}", data=form)
    assert refused.status_code == 422 and "has 7 steps" in refused.text
    listing = client.get("/admin/escalation-paths").text
    assert "L1 team 6" in listing  # the seventh step is still there
