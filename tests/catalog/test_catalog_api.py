"""Admin endpoints for customers, groups, services, CIs and categories."""

from __future__ import annotations


def test_admin_builds_the_catalog(client, cast) -> None:
    h = cast.bob.headers
    svc = client.post(
        "/api/v1/admin/services", json={"name": "VPN", "customer_id": cast.globex.id}, headers=h
    )
    assert svc.status_code == 201
    assert client.post("/api/v1/admin/services", json={"name": "VPN"}, headers=h).status_code == 409
    ci = client.post(
        "/api/v1/admin/cis",
        json={"name": "vpn-gw1", "ci_class": "network", "service_id": svc.json()["id"]},
        headers=h,
    )
    assert ci.status_code == 201 and ci.json()["criticality"] == "medium"
    r = client.patch(
        f"/api/v1/admin/cis/{ci.json()['id']}",
        json={"criticality": "critical", "owner_group_id": cast.infra.id},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["criticality"] == "critical", r.text
    assert (
        client.patch(
            f"/api/v1/admin/cis/{ci.json()['id']}", json={"criticality": None}, headers=h
        ).status_code
        == 422
    )
    assert (
        client.patch("/api/v1/admin/cis/99999", json={"criticality": "low"}, headers=h).status_code
        == 404
    )
    r = client.patch(
        f"/api/v1/admin/services/{svc.json()['id']}", json={"customer_id": None}, headers=h
    )
    assert r.status_code == 200 and r.json()["customer_id"] is None
    assert (
        client.post(
            "/api/v1/admin/cis",
            json={"name": "x", "ci_class": "server", "criticality": "extreme"},
            headers=h,
        ).status_code
        == 422
    )


def test_categories_are_two_levels(client, cast) -> None:
    h = cast.bob.headers
    r = client.post(
        "/api/v1/admin/categories",
        json={"name": "Docking station", "parent_id": cast.laptop.id},
        headers=h,
    )
    assert r.status_code == 422
    assert (
        client.post(
            "/api/v1/admin/categories",
            json={"name": "Laptop", "parent_id": cast.hardware.id},
            headers=h,
        ).status_code
        == 409
    )
    names = {c["name"] for c in client.get("/api/v1/categories", headers=cast.dave.headers).json()}
    assert {"Hardware", "Laptop"} <= names


def test_subcategory_must_belong_to_category(client, cast) -> None:
    other = client.post(
        "/api/v1/admin/categories", json={"name": "Software"}, headers=cast.bob.headers
    ).json()
    body = {
        "short_description": "x",
        "impact": 1,
        "urgency": 1,
        "category_id": other["id"],
        "subcategory_id": cast.laptop.id,
    }
    r = client.post("/api/v1/incidents", json=body, headers=cast.dave.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "subcategory_id"


def test_services_offered_to_one_customer(client, cast) -> None:
    svc = client.post(
        "/api/v1/admin/services",
        json={"name": "Globex ERP", "customer_id": cast.globex.id},
        headers=cast.bob.headers,
    ).json()
    assert svc["name"] not in {
        s["name"] for s in client.get("/api/v1/services", headers=cast.dave.headers).json()
    }
    r = client.post(
        "/api/v1/incidents",
        json={"short_description": "x", "impact": 1, "urgency": 1, "service_id": svc["id"]},
        headers=cast.dave.headers,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "service_id"


def test_groups_and_members(client, cast) -> None:
    h = cast.bob.headers
    g = client.post(
        "/api/v1/admin/groups",
        json={"name": "DBA", "tier": "l3", "manager_id": cast.ivy.id},
        headers=h,
    )
    assert g.status_code == 201
    gid = g.json()["id"]
    assert (
        client.post("/api/v1/admin/groups", json={"name": "X", "tier": "l9"}, headers=h).status_code
        == 422
    )
    r = client.put(f"/api/v1/admin/groups/{gid}/members/{cast.eve.id}", headers=h)
    assert r.status_code == 200 and r.json()["member_ids"] == [cast.eve.id]
    assert (
        client.put(f"/api/v1/admin/groups/{gid}/members/{cast.dave.id}", headers=h).status_code
        == 422
    )
    r = client.delete(f"/api/v1/admin/groups/{gid}/members/{cast.eve.id}", headers=h)
    assert r.status_code == 200 and r.json()["member_ids"] == []
    assert (
        client.delete(f"/api/v1/admin/groups/{gid}/members/{cast.eve.id}", headers=h).status_code
        == 404
    )


def test_requester_needs_a_customer(client, cast) -> None:
    body = {"username": "newbie", "email": "newbie@example.com", "role": "requester"}
    r = client.post("/api/v1/admin/users", json=body, headers=cast.bob.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "customer"
    r = client.post(
        "/api/v1/admin/users", json={**body, "customer_id": cast.acme.id}, headers=cast.bob.headers
    )
    assert r.status_code == 201
    assert (
        client.post(
            "/api/v1/admin/users",
            json={**body, "customer_id": cast.acme.id},
            headers=cast.bob.headers,
        ).status_code
        == 409
    )
