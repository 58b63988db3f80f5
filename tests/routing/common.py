"""Helpers of the routing tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import Person

API = "/api/v1"
RULES = f"{API}/admin/routing/rules"


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return dict(response.json())


def make_rule(client: TestClient, admin: Person, **fields: Any) -> dict[str, Any]:
    body = {"name": "rule", "actions": [{"type": "mark_request"}], **fields}
    response = client.post(RULES, json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def contains(field: str, text: str) -> list[dict[str, Any]]:
    return [{"field": field, "op": "contains", "value": text}]


def events(client: TestClient, who: Person, number: str) -> list[dict[str, Any]]:
    response = client.get(f"{API}/incidents/{number}/events", headers=who.headers)
    assert response.status_code == 200, response.text
    return list(response.json())


def patch(client: TestClient, who: Person, number: str, **fields: Any) -> Any:
    current = client.get(f"{API}/incidents/{number}", headers=who.headers)
    return client.patch(
        f"{API}/incidents/{number}",
        json=fields,
        headers={**who.headers, "If-Match": current.headers["etag"]},
    )
