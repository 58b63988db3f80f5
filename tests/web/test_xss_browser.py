"""An XSS corpus in every user-editable field that a page renders, loaded in a real browser
twice: with the real CSP (no CSP complaint may appear either) and with `bypass_csp`, so the
escaping alone is proven. On every page `window.__xss` stays undefined, no injected element
(iframe, img, event handler, javascript: link) exists, and the text shows literally.

The records are made through the API and services (fast); the portal submission goes through
the portal's own form."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from dutydesk.access.policy import Actor, Role
from dutydesk.incidents.saved_filters import save_filter
from tests.factories import PASSWORD, Person, new_incident
from tests.web.conftest import Served, new_page
from tests.web.test_portal_browser import api_act

CORPUS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    '<svg onload="window.__xss=1">',
    '"><svg/onload=window.__xss=1>',
    "javascript:window.__xss=1",
    "[x](javascript:window.__xss=1)",
    '<a href="javascript:window.__xss=1">x</a>',
    '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
    "{{7*7}}",
]
TEXT = "\n".join(CORPUS)
NO_SLASH = [p for p in CORPUS if "/" not in p]  # a file name keeps its last path part only
INJECTED = 'iframe, img[src="x"], [onerror], [onload], a[href^="javascript" i]'


@dataclass
class Corpus:
    showcase: str = ""  # Dave's incident with every field filled from the corpus
    numbers: list[str] = field(default_factory=list)  # one per payload, as the title
    portal: str = ""  # submitted through the portal form


def post(api: httpx.Client, who: Person, path: str, **body: Any) -> Any:
    done = api.post(f"/api/v1{path}", json=body, headers=who.headers)
    assert done.status_code == 201, (path, done.text)
    return done.json()


def fill_records(served: Served) -> Corpus:
    cast, found = served.cast, Corpus()
    bob, alice = cast.bob, cast.alice
    with httpx.Client(base_url=served.url) as api:
        ids: dict[str, list[int]] = {k: [] for k in ("groups", "services", "cis", "cats", "users")}
        for i, text in enumerate(CORPUS):
            ids["groups"].append(post(api, bob, "/admin/groups", name=text, tier="l1")["id"])
            post(api, bob, "/admin/customers", name=text)
            ids["services"].append(post(api, bob, "/admin/services", name=text)["id"])
            ids["cis"].append(post(api, bob, "/admin/cis", name=text, ci_class="server")["id"])
            ids["cats"].append(post(api, bob, "/admin/categories", name=text)["id"])
            user = post(
                api,
                bob,
                "/admin/users",
                username=f"xss{i}",
                email=f"xss{i}@example.com",
                role="admin" if i == 0 else "agent",  # xss0 browses the staff pages
                full_name=text,
                password=PASSWORD,
            )
            ids["users"].append(user["id"])
            post(
                api,
                bob,
                "/admin/routing/rules",
                name=text,
                conditions=[{"field": "description", "op": "contains", "value": "[routed]"}],
                actions=[{"type": "add_tags", "value": [f"javascript:xss{i}"]}],
            )
        api.put(
            f"/api/v1/admin/groups/{ids['groups'][0]}/members/{ids['users'][0]}",
            headers=bob.headers,
        ).raise_for_status()
        for i, text in enumerate(CORPUS):  # the first fires the tagging rules
            fields = {"short_description": text, "caller_id": cast.dave.id}
            fields["description"] = f"[routed]\n{TEXT}" if i == 0 else TEXT
            found.numbers.append(new_incident(api, bob, **fields)["number"])  # type: ignore[arg-type]
        number = found.showcase = found.numbers[0]
        api_act(api, bob, number, "assign", group_id=ids["groups"][0], assignee_id=ids["users"][0])
        current = api.get(f"/api/v1/incidents/{number}", headers=bob.headers)
        api.patch(
            f"/api/v1/incidents/{number}",
            json={
                "category_id": ids["cats"][0],
                "service_id": ids["services"][0],
                "ci_id": ids["cis"][0],
            },
            headers={**bob.headers, "If-Match": current.headers["etag"]},
        ).raise_for_status()
        post(
            api,
            alice,
            f"/incidents/{number}/comments",
            body=f"NOTE-ONLY\n{TEXT}",
            visibility="work_note",
        )
        post(api, alice, f"/incidents/{number}/comments", body=TEXT, visibility="public")
        for name in NO_SLASH:
            done = api.post(
                f"/api/v1/incidents/{number}/attachments",
                files={"file": (name, b"payload", "text/plain")},
                data={"visibility": "public"},
                headers=bob.headers,
            )
            assert done.status_code == 201, done.text
        api_act(
            api,
            bob,
            number,
            "resolve",
            resolution_code="fixed",
            resolution_notes=TEXT,
            is_workaround=True,
        )
    actor = Actor(user_id=ids["users"][0], name="xss0", role=Role.admin, channel="web")
    with served.db.unit_of_work() as session:
        for text in CORPUS:
            save_filter(session, actor, text[:80], f"tab=all&text={quote(text)}")
    return found


@pytest.fixture(scope="module")
def states() -> dict[str, Any]:
    """Each user's signed-in cookies: one sign-in per user for the whole module."""
    return {}


@pytest.fixture(scope="module")
def corpus(served: Served, chromium: Any, states: dict[str, Any]) -> Corpus:
    found = fill_records(served)
    page = new_page(chromium, served, "dave", states=states)
    page.goto("/portal/new")
    page.fill("#short_description", CORPUS[3])
    page.fill("#description", f"PORTAL\n{TEXT}")
    page.get_by_role("button", name="Send the report").click()
    page.wait_for_url("**/portal/incidents/INC*")
    found.portal = page.url.rsplit("/", 1)[-1]
    page.context.close()
    return found


@pytest.fixture(scope="module", params=["csp", "bypass_csp"])
def browse(
    request: pytest.FixtureRequest, chromium: Any, served: Served, states: dict[str, Any]
) -> Iterator[Any]:
    """`browse(who)`: a page signed in as `who`, one per user for the module and CSP mode;
    each page's console complaints about the CSP are in `page.csp_errors`."""
    opened: dict[str, Any] = {}

    def get(who: str) -> Any:
        if who not in opened:
            bypass = request.param == "bypass_csp"
            page = new_page(chromium, served, who, states=states, bypass_csp=bypass)
            page.csp_errors = []
            page.on(
                "console",
                lambda m, p=page: (
                    p.csp_errors.append(m.text) if "Content Security Policy" in m.text else None
                ),
            )
            opened[who] = page
        return opened[who]

    yield get
    for page in opened.values():
        page.context.close()


# page -> (who, path, texts that must show literally); {showcase} {portal} {first} are numbers
PAGES: dict[str, tuple[str, str, list[str]]] = {
    **{
        f"queues-{tab}": ("xss0", f"/queues?tab={tab}", [t[:80] for t in CORPUS])  # saved filters
        for tab in ("unassigned", "breaching")  # the others list the same way
    },
    "queues-all": ("xss0", "/queues?tab=all", CORPUS),
    "queues-text-filter": ("xss0", f"/queues?tab=all&text={quote(CORPUS[3])}", []),
    "incident": ("xss0", "/incidents/{showcase}", [*CORPUS, "NOTE-ONLY", "javascript:xss0"]),
    "incident-portal-report": ("xss0", "/incidents/{portal}", ["PORTAL", *CORPUS]),
    "board": ("xss0", "/board?group=all", CORPUS[1:]),  # the showcase is resolved: not shown
    **{  # the breakdown names the showcase's group and category
        f"dashboard-by-{by}": ("xss0", f"/dashboard?by={by}", CORPUS[:1])
        for by in ("group", "category")
    },
    "mentions": ("xss0", "/workspace/mentions?body=%40xss", CORPUS[:8]),  # 8 at most
    "mentions-last": ("xss0", "/workspace/mentions?body=%40xss8", CORPUS[8:]),
    "account": ("xss0", "/account", CORPUS[:1]),  # the user's own name
    "portal-home": ("dave", "/portal", CORPUS),
    "portal-incident": ("dave", "/portal/incidents/{showcase}", CORPUS),
    "portal-report": ("dave", "/portal/incidents/{portal}", ["PORTAL", *CORPUS]),
    **{
        f"admin-{key}": ("xss0", f"/admin/{key}", CORPUS)
        for key in ("users", "groups", "customers", "services", "cis", "categories")
    },
    "admin-routing-rules": ("xss0", "/admin/routing-rules", CORPUS),
}


@pytest.mark.parametrize("name", PAGES)
def test_the_corpus_shows_literally_and_runs_nowhere(
    browse: Any, corpus: Corpus, name: str
) -> None:
    who, path, texts = PAGES[name]
    page = browse(who)
    response = page.goto(
        path.format(showcase=corpus.showcase, portal=corpus.portal, first=corpus.numbers[1])
    )
    assert response.status == 200, (name, response.status)
    assert page.evaluate("() => typeof window.__xss") == "undefined", name
    assert page.locator(INJECTED).count() == 0, page.locator(INJECTED).evaluate_all(
        "nodes => nodes.map(n => n.outerHTML)"
    )
    shown = page.locator("body").inner_text()
    missing = [text for text in texts if text not in shown]
    assert missing == [], f"{name} does not show these literally: {missing}"
    if name.startswith("portal"):
        assert "NOTE-ONLY" not in page.content()
    assert page.csp_errors == [], page.csp_errors
