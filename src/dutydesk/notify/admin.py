"""Writes for what admins configure (never commit): endpoints (webhook, Slack, Teams) and
template overrides, which must render before they are saved."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, require_admin
from dutydesk.config import Settings
from dutydesk.kernel import clock
from dutydesk.kernel.errors import InvalidInput
from dutydesk.kernel.persistence import flush_unique
from dutydesk.models import (
    NotifyEndpoint,
    NotifyTemplate,
)
from dutydesk.notify import queries, templates
from dutydesk.notify.service import check_event
from dutydesk.notify.templates import (
    BUILTIN,
    CHANNELS,
    ENDPOINT_KINDS,
    OPTIONAL_EXTRA,
    REQUIRED_EXTRA,
    TEMPLATE_CHANNELS,
    Rendered,
    Template,
    TemplateProblem,
)

_SECRET_RE = re.compile(r"^[\x21-\x7e]{16,200}$")


def check_url(url: str) -> str:
    """An http(s) URL with a host, nothing else (no javascript:, file:, gopher:…)."""
    problem = None
    if not url or len(url) > 2000 or re.search(r"[\s\x00-\x1f\x7f]", url):
        problem = "must be an http or https URL without spaces or control characters"
    else:
        parts = urlsplit(url)
        try:
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            port_ok = False
        if parts.scheme.lower() not in ("http", "https"):
            problem = f"the scheme must be http or https, not {parts.scheme or 'missing'!r}"
        elif not parts.hostname or not port_ok:
            problem = "must name a host (and a valid port)"
    if problem:
        raise InvalidInput(f"the URL {problem}", errors=[{"field": "url", "msg": problem}])
    return url


def _events_json(events: Iterable[str]) -> str:
    chosen = list(dict.fromkeys(events))
    for event in chosen:
        check_event(event, "events")
    return json.dumps(chosen)


def _secret(secret: str | None) -> str:
    if secret is None:
        return secrets.token_urlsafe(32)
    if not _SECRET_RE.match(secret):
        raise InvalidInput(
            "the secret must be 16–200 printable characters without spaces",
            errors=[{"field": "secret", "msg": "16–200 printable characters"}],
        )
    return secret


def create_endpoint(
    session: Session,
    actor: Actor,
    *,
    name: str,
    url: str,
    kind: str = "webhook",
    events: Iterable[str] = (),
    secret: str | None = None,
) -> tuple[NotifyEndpoint, str]:
    """A new endpoint and its signing secret (generated unless given; shown only now)."""
    require_admin(actor)
    if kind not in ENDPOINT_KINDS:
        raise InvalidInput(
            f"kind must be one of {', '.join(ENDPOINT_KINDS)}",
            errors=[{"field": "kind", "msg": "unknown kind"}],
        )
    now = clock.now()
    endpoint = NotifyEndpoint(
        name=name.strip(),
        kind=kind,
        url=check_url(url),
        secret=_secret(secret),
        events=_events_json(events),
        active=True,
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    flush_unique(session, f"an endpoint named {name!r}")
    return endpoint, endpoint.secret or ""


def update_endpoint(
    session: Session, actor: Actor, endpoint: NotifyEndpoint, changes: Mapping[str, object]
) -> NotifyEndpoint:
    """Apply the given fields: name, url, events, active, secret."""
    require_admin(actor)
    if "name" in changes and changes["name"] is not None:
        endpoint.name = str(changes["name"]).strip()
    if changes.get("url") is not None:
        endpoint.url = check_url(str(changes["url"]))
    if changes.get("events") is not None:
        events = changes["events"]
        endpoint.events = _events_json([str(e) for e in events] if isinstance(events, list) else [])
    if changes.get("active") is not None:
        endpoint.active = bool(changes["active"])
    if changes.get("secret") is not None:
        endpoint.secret = _secret(str(changes["secret"]))
    endpoint.updated_at = clock.now()
    flush_unique(session, f"an endpoint named {endpoint.name!r}")
    return endpoint


def deactivate_endpoint(session: Session, actor: Actor, endpoint: NotifyEndpoint) -> NotifyEndpoint:
    """No new notifications; pending ones are cancelled when the worker reaches them."""
    return update_endpoint(session, actor, endpoint, {"active": False})


# ----------------------------------------------------------------- templates


def _check_pair(event: str, channel: str) -> None:
    check_event(event)
    if channel not in CHANNELS:
        raise InvalidInput(
            f"unknown channel {channel!r}; channels are {', '.join(CHANNELS)}",
            errors=[{"field": "channel", "msg": "unknown channel"}],
        )


def _templated(channel: str) -> None:
    if channel not in TEMPLATE_CHANNELS:
        raise InvalidInput(
            f"{channel} payloads are JSON built by DutyDesk; they have no template",
            errors=[{"field": "channel", "msg": "no template for this channel"}],
        )


def _refuse(event: str, problem: TemplateProblem) -> InvalidInput:
    keys = ", ".join(REQUIRED_EXTRA[event]) or "nothing"
    optional = ", ".join(OPTIONAL_EXTRA[event])
    hint = f"; for {event!r} extra always holds {keys}"
    if optional:
        hint += f" and may hold {optional} (test with `extra.x is defined`)"
    msg = f"line {problem.line}: {problem.message}" if problem.line else problem.message
    return InvalidInput(f"{problem}{hint}", errors=[{"field": problem.part, "msg": msg}])


def put_template(
    session: Session,
    settings: Settings,
    actor: Actor,
    event: str,
    channel: str,
    *,
    subject: str,
    body: str,
) -> NotifyTemplate:
    """Override the built-in template; refused (422, with the line) unless it renders."""
    require_admin(actor)
    _check_pair(event, channel)
    _templated(channel)
    try:
        templates.check(event, channel, Template(subject, body), base_url=settings.public_base_url)
    except TemplateProblem as exc:
        raise _refuse(event, exc) from exc
    found = queries.get_override(session, event, channel)
    if found is None:
        found = NotifyTemplate(event=event, channel=channel, subject="", body="")
        session.add(found)
    found.subject = subject
    found.body = body
    found.updated_at = clock.now()
    found.updated_by_id = actor.user_id
    flush_unique(session, f"a template for {event}/{channel}")
    return found


def delete_template(session: Session, actor: Actor, event: str, channel: str) -> None:
    """Back to the built-in (nothing to do when there is no override)."""
    require_admin(actor)
    _check_pair(event, channel)
    _templated(channel)
    found = queries.get_override(session, event, channel)
    if found is not None:
        session.delete(found)
        session.flush()


def preview_template(
    session: Session,
    settings: Settings,
    actor: Actor,
    event: str,
    channel: str,
    *,
    subject: str | None = None,
    body: str | None = None,
) -> Rendered:
    """Render the given template (or the current one) with a sample incident."""
    require_admin(actor)
    _check_pair(event, channel)
    context = templates.sample_context(
        event, base_url=settings.public_base_url, personal=channel == "email"
    )
    tag = "" if event in templates.REPORT_EVENTS else "[INC0000123] "  # reports: no incident
    if channel == "webhook":  # the subject of the e-mail; the payload without personal links
        personal = templates.sample_context(event, base_url=settings.public_base_url)
        email = templates.render("email", BUILTIN[(event, "email")], personal)
        payload = {**context, "occurred_at": clock.now().isoformat(), "notification_id": 0}
        payload.pop("actor")
        return Rendered(tag + email.subject, json.dumps(payload, indent=2, ensure_ascii=False))
    current = queries.get_template_view(session, event, channel)
    template = Template(
        current.subject if subject is None else subject, current.body if body is None else body
    )
    try:
        rendered = templates.render(channel, template, context)
    except TemplateProblem as exc:
        raise _refuse(event, exc) from exc
    if channel == "email":
        return Rendered(tag + rendered.subject, rendered.body)
    return rendered
