"""Notification templates: the built-ins per event and channel, the sandbox that renders them,
and the checks an admin's override must pass before it is saved.

Templates are Jinja in ``ImmutableSandboxedEnvironment`` with ``StrictUndefined``: a template
cannot reach Python internals, cannot change the data it is given, and fails on a variable
that does not exist instead of printing nothing. Email is plain text, so nothing is escaped;
Slack and Teams messages escape ``& < >`` in every ``{{ value }}`` so user text cannot ping a
channel (``<!here>``) or inject links. The context is ``incident`` (a dict of its public
fields), ``event``, ``actor`` (a name) and ``extra`` (per event, see ``REQUIRED_EXTRA`` and
``OPTIONAL_EXTRA``). Webhook payloads are JSON built in code, never a template.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from types import TracebackType
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError
from jinja2 import Template as JinjaTemplate
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

EVENTS = (
    "assigned",
    "public_reply",
    "state_changed",
    "sla_warning",
    "sla_breached",
    "escalated",
    "resolved",
    "closed",
    "rule_notify",
    "converted_to_request",
    "mentioned",
)
# Events about no incident, sent by e-mail only to the staff who subscribed (default off);
# their context's `incident` is empty. Not in EVENTS, which lists the incident events.
REPORT_EVENTS = ("weekly_report",)
ALL_EVENTS = EVENTS + REPORT_EVENTS
# Told only to the users named, never to endpoints: a mention may quote a work note, which
# must not reach a chat channel or a webhook.
PERSONAL_EVENTS = ("mentioned",)
DEFAULT_OFF = REPORT_EVENTS  # a user receives these only after turning them on
CHANNELS = ("email", "webhook", "slack", "teams")
TEMPLATE_CHANNELS = ("email", "slack", "teams")  # webhook payloads are built in code
ENDPOINT_KINDS = ("webhook", "slack", "teams")
USER_CHANNELS = ("email",)  # channels a user addresses personally (and has preferences for)

# The keys of `extra` each event's caller must give, and those it may give. Built-in templates
# use the optional ones only behind `is defined`; an override is checked both ways when saved.
REQUIRED_EXTRA: dict[str, tuple[str, ...]] = {
    "assigned": (),
    "public_reply": ("comment",),
    "state_changed": ("old_state", "new_state"),
    "sla_warning": ("clock",),
    "sla_breached": ("clock",),
    "escalated": ("level",),
    "resolved": ("confirm_url", "reject_url"),
    "closed": ("survey_url",),
    "rule_notify": ("rule",),
    "converted_to_request": ("request", "request_url"),
    "mentioned": ("comment", "visibility"),
    "weekly_report": (
        "week",
        "week_start",
        "week_end",
        "previous_week",
        "recipient",
        "figures",
        "backlog",
        "url",
    ),
}
OPTIONAL_EXTRA: dict[str, tuple[str, ...]] = {
    "assigned": ("comment",),
    "public_reply": (),
    "state_changed": ("comment",),
    "sla_warning": (),
    "sla_breached": (),
    "escalated": ("comment", "clock"),
    "resolved": ("comment",),
    "closed": (),
    "rule_notify": ("comment",),
    "converted_to_request": ("comment",),
    "mentioned": (),
    "weekly_report": (),
}
# Signed single-use links meant for the requester alone: only their e-mail carries them;
# chat messages and webhook payloads never do (a chat channel is read by many).
PERSONAL_EXTRA = ("confirm_url", "reject_url", "survey_url")
CONTEXT_NAMES = ("incident", "event", "actor", "extra")
MAX_SUBJECT = 250
MAX_BODY = 100_000
MAX_SOURCE = 32_000  # the API's Text limit
_LARGEST_ARGUMENT = 100_000  # sandbox: larger numbers given to calls or `*` are refused


@dataclass(frozen=True)
class Template:
    subject: str
    body: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


class TemplateProblem(Exception):
    """A template that does not compile or render; names the part and the line."""

    def __init__(self, part: str, line: int | None, message: str) -> None:
        self.part = part
        self.line = line
        self.message = message
        where = f"line {line}: " if line else ""
        super().__init__(f"the {part} template {where}{message}")


# ----------------------------------------------------------------- the sandbox


def _chat_escape(value: Any) -> Any:
    """Slack and Teams read `<...>` as links and mentions; user text must stay text."""
    if value is None:
        return ""
    text = str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _when(value: Any) -> str:
    """An ISO timestamp as '2026-11-22 14:00 UTC' (the filter `when`)."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    suffix = " UTC" if parsed.utcoffset() is not None and not parsed.utcoffset() else ""
    return parsed.strftime("%Y-%m-%d %H:%M") + suffix


def _too_big(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) > _LARGEST_ARGUMENT


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, also refusing the cheap ways to allocate gigabytes ('x' * 10**9)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and (_too_big(right) or (isinstance(right, int) and right > 64)):
            raise SecurityError("exponents above 64 are not allowed in templates")
        if operator == "*" and any(
            isinstance(seq, str | list | tuple) and isinstance(n, int) and len(seq) * n > MAX_BODY
            for seq, n in ((left, right), (right, left))
        ):
            raise SecurityError("the result of this repetition would be too large")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if any(_too_big(a) for a in (*args, *kwargs.values())):
            raise SecurityError(f"numbers above {_LARGEST_ARGUMENT} are not allowed in calls")
        return super().call(__context, __obj, *args, **kwargs)


def _environment(*, chat: bool) -> _Sandbox:
    env = _Sandbox(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=_chat_escape if chat else None,
    )
    env.filters["when"] = _when
    return env


_ENVIRONMENTS = {
    "email": _environment(chat=False),
    "slack": _environment(chat=True),
    "teams": _environment(chat=True),
}


@lru_cache(maxsize=512)
def _compile(channel: str, source: str) -> JinjaTemplate:
    return _ENVIRONMENTS[channel].from_string(source)


def _template_line(tb: TracebackType | None) -> int | None:
    """The template line of a render error: Jinja rewrites its frames to '<template>'."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _render_part(channel: str, part: str, source: str, context: Mapping[str, Any]) -> str:
    if len(source) > MAX_SOURCE:
        raise TemplateProblem(part, None, f"is longer than {MAX_SOURCE} characters")
    try:
        template = _compile(channel, source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(part, exc.lineno, f"does not compile: {exc.message}") from exc
    try:
        return template.render(**context)
    except SecurityError as exc:
        raise TemplateProblem(
            part, _template_line(exc.__traceback__), f"is not allowed: {exc}"
        ) from exc
    except Exception as exc:  # undefined variables, type errors: all the admin's to fix
        raise TemplateProblem(part, _template_line(exc.__traceback__), f"fails: {exc}") from exc


def one_line(text: str) -> str:
    """Any run of whitespace or control characters (CR, LF, NUL, U+2028…) becomes one space."""
    return re.sub(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+", " ", text).strip()


def render(channel: str, template: Template, context: Mapping[str, Any]) -> Rendered:
    """Render a template for a templated channel; raises TemplateProblem."""
    if channel not in _ENVIRONMENTS:
        raise ValueError(f"{channel} messages have no template")
    subject = one_line(_render_part(channel, "subject", template.subject, context))
    body = _render_part(channel, "body", template.body, context)
    return Rendered(subject[:MAX_SUBJECT], body[:MAX_BODY])


def check(event: str, channel: str, template: Template, *, base_url: str) -> None:
    """Refuse a template that would fail for this event: rendered with every `extra` key the
    event may give, and with only those it must give."""
    if (event, channel) not in BUILTIN:
        raise TemplateProblem("body", None, f"{event} messages are not sent on {channel}")
    personal = channel == "email"
    for minimal in (False, True):
        context = sample_context(event, base_url=base_url, minimal=minimal, personal=personal)
        render(channel, template, context)


# ----------------------------------------------------------------- sample data


def sample_incident(base_url: str) -> dict[str, Any]:
    return {
        "number": "INC0000123",
        "short_description": "Mail server unreachable from the Berlin office",
        "description": "Since 09:10 nobody in Berlin can send or receive e-mail.",
        "state": "in_progress",
        "priority": 2,
        "impact": 2,
        "urgency": 1,
        "assignment_group": "Service Desk",
        "assignee": "Alice Agent",
        "caller": "Dave Requester",
        "customer": "Acme",
        "opened_at": "2026-11-23T09:14:00+00:00",
        "resolved_at": None,
        "url": base_url.rstrip("/") + "/incidents/INC0000123",
    }


def _sample_extra(event: str, base_url: str) -> dict[str, Any]:
    clock = {"kind": "resolution", "due": "2026-11-23T17:14:00+00:00", "percent": 75}
    link = base_url.rstrip("/") + "/confirm/INC0000123?t=sample"
    values: dict[str, Any] = {
        "comment": "Restarted the mail relay; please check your inbox.",
        "old_state": "assigned",
        "new_state": "in_progress",
        "clock": clock,
        "level": 2,
        "confirm_url": link + "&answer=yes",
        "reject_url": link + "&answer=no",
        "survey_url": base_url.rstrip("/") + "/survey/INC0000123?t=sample",
        "rule": "VPN problems to Network",
        "request": "REQ0000042",
        "request_url": base_url.rstrip("/") + "/requests/REQ0000042",
        "visibility": "work_note",
    }
    if event == "sla_breached":
        values["clock"] = {**clock, "percent": 100}
    return values


def sample_context(
    event: str, *, base_url: str, minimal: bool = False, personal: bool = True
) -> dict[str, Any]:
    """A realistic context for previews and checks (minimal: only the required extra keys;
    personal=False: without the requester's links, as chat messages are rendered)."""
    if event in REPORT_EVENTS:
        return {
            "incident": {},
            "event": event,
            "actor": "DutyDesk",
            "extra": sample_report(base_url),
        }
    extra = _sample_extra(event, base_url)
    keys = REQUIRED_EXTRA[event] + (() if minimal else OPTIONAL_EXTRA[event])
    if not personal:
        keys = tuple(k for k in keys if k not in PERSONAL_EXTRA)
    return {
        "incident": sample_incident(base_url),
        "event": event,
        "actor": "Alice Agent",
        "extra": {k: extra[k] for k in keys},
    }


def sample_report(base_url: str) -> dict[str, Any]:
    """The `extra` of a weekly report, as `dutydesk.reports.jobs` builds it."""

    def figure(key: str, label: str, current: str, previous: str, change: str) -> dict[str, Any]:
        return {
            "key": key,
            "label": label,
            "current": current,
            "previous": previous,
            "change": change,
            "current_value": None,
            "previous_value": None,
        }

    return {
        "week": "2026-W47",
        "week_start": "2026-11-16",
        "week_end": "2026-11-22",
        "previous_week": "2026-W46",
        "recipient": "Alice Agent",
        "figures": [
            figure("opened", "Incidents opened", "42", "38", "+4"),
            figure("resolved", "Incidents resolved", "40", "41", "-1"),
            figure("mtta_seconds", "Mean time to acknowledge", "18 min", "22 min", "-4 min"),
            figure("mttr_seconds", "Mean time to resolve", "6 h 10 min", "7 h 02 min", "-52 min"),
            figure("sla_response_met_rate", "Response SLA met", "95.0 %", "92.1 %", "+2.9 pp"),
            figure("csat_mean", "Satisfaction (1-5)", "4.30", "-", "-"),
        ],
        "backlog": {"open": 17, "over_7d": 3, "oldest": "12 d 4 h"},
        "url": base_url.rstrip("/") + "/reports",
    }


# ----------------------------------------------------------------- the built-ins

_DETAILS = """
Incident:  {{ incident.number }} - {{ incident.short_description }}
Priority:  P{{ incident.priority }}
State:     {{ incident.state|replace('_', ' ') }}
Group:     {{ incident.assignment_group or '-' }}
Assignee:  {{ incident.assignee or '-' }}
Caller:    {{ incident.caller or '-' }}

{{ incident.url }}

--
DutyDesk sent this message automatically. You can turn these messages off in your
notification preferences.
"""
_COMMENT = "{% if extra.comment is defined and extra.comment %}\n\n{{ extra.comment }}{% endif %}"
_CLOCK = (
    "{{ extra.clock.kind }} target of {{ incident.number }} "
    "({{ extra.clock.percent }}% used, due {{ extra.clock.due|when }})"
)
_EMAIL: dict[str, Template] = {
    "assigned": Template(
        "Assigned to {{ incident.assignee or incident.assignment_group }}: "
        "{{ incident.short_description }}",
        "{{ actor }} assigned {{ incident.number }} to "
        "{% if incident.assignee %}{{ incident.assignee }}"
        "{% if incident.assignment_group %} ({{ incident.assignment_group }}){% endif %}"
        "{% else %}the {{ incident.assignment_group }} group{% endif %}."
        + _COMMENT
        + "\n"
        + _DETAILS,
    ),
    "public_reply": Template(
        "New reply: {{ incident.short_description }}",
        "{{ actor }} wrote on {{ incident.number }}:\n\n{{ extra.comment }}\n" + _DETAILS,
    ),
    "state_changed": Template(
        "{{ extra.new_state|replace('_', ' ')|capitalize }}: {{ incident.short_description }}",
        "{{ actor }} changed {{ incident.number }} from {{ extra.old_state|replace('_', ' ') }} "
        "to {{ extra.new_state|replace('_', ' ') }}." + _COMMENT + "\n" + _DETAILS,
    ),
    "sla_warning": Template(
        "SLA warning, {{ extra.clock.percent }}% of the {{ extra.clock.kind }} time used: "
        "{{ incident.short_description }}",
        "The " + _CLOCK + " is running out.\n" + _DETAILS,
    ),
    "sla_breached": Template(
        "SLA breached ({{ extra.clock.kind }}): {{ incident.short_description }}",
        "The " + _CLOCK + " has been missed.\n" + _DETAILS,
    ),
    "escalated": Template(
        "Escalated to level {{ extra.level }}: {{ incident.short_description }}",
        "{{ incident.number }} was escalated to level {{ extra.level }} by {{ actor }}."
        + _COMMENT
        + "{% if extra.clock is defined %}\n\nThe "
        + _CLOCK
        + ".{% endif %}\n"
        + _DETAILS,
    ),
    "resolved": Template(
        "Resolved: {{ incident.short_description }}",
        "{{ actor }} resolved {{ incident.number }}."
        "{% if extra.comment is defined and extra.comment %}\n\nResolution: {{ extra.comment }}"
        "{% endif %}\n\nIs your issue solved?\n\n"
        "  Yes, close it:           {{ extra.confirm_url }}\n"
        "  No, it is still broken:  {{ extra.reject_url }}\n\n"
        "Without an answer the incident is closed automatically after a few working days.\n"
        + _DETAILS,
    ),
    "closed": Template(
        "Closed: {{ incident.short_description }}",
        "{{ incident.number }} is closed.\n\nHow did we do? One click tells us (1 to 5):\n"
        "{{ extra.survey_url }}\n" + _DETAILS,
    ),
    "rule_notify": Template(
        "Rule {{ extra.rule }}: {{ incident.short_description }}",
        'The routing rule "{{ extra.rule }}" matched {{ incident.number }} and asks you to '
        "take note." + _COMMENT + "\n" + _DETAILS,
    ),
    "converted_to_request": Template(
        "Now service request {{ extra.request }}: {{ incident.short_description }}",
        "What you reported as {{ incident.number }} is a service request, not an incident: "
        "{{ actor }} converted it to {{ extra.request }}, which the desk fulfils from here.\n"
        "Its history came along; nothing needs doing on your side."
        + _COMMENT
        + "\n\nFollow the request: {{ extra.request_url }}\n"
        + _DETAILS,
    ),
    "mentioned": Template(
        "{{ actor }} mentioned you: {{ incident.short_description }}",
        "{{ actor }} mentioned you in a "
        "{{ 'work note' if extra.visibility == 'work_note' else 'public reply' }} on "
        "{{ incident.number }}:\n\n{{ extra.comment }}\n" + _DETAILS,
    ),
}
_CHAT_SUBJECT: dict[str, str] = {
    "assigned": "{{ incident.number }} assigned to "
    "{{ incident.assignee or incident.assignment_group }}",
    "public_reply": "{{ incident.number }}: new reply from {{ actor }}",
    "state_changed": "{{ incident.number }} is now {{ extra.new_state|replace('_', ' ') }}",
    "sla_warning": "{{ incident.number }}: {{ extra.clock.percent }}% of the "
    "{{ extra.clock.kind }} time used",
    "sla_breached": "{{ incident.number }}: {{ extra.clock.kind }} SLA breached",
    "escalated": "{{ incident.number }} escalated to level {{ extra.level }}",
    "resolved": "{{ incident.number }} resolved by {{ actor }}",
    "closed": "{{ incident.number }} closed",
    "rule_notify": "{{ incident.number }} matched rule {{ extra.rule }}",
    "converted_to_request": "{{ incident.number }} converted to {{ extra.request }}",
    "mentioned": "{{ incident.number }}: {{ actor }} mentioned someone",
}
_CHAT_BODY = (
    "P{{ incident.priority }} · {{ incident.short_description }}\n"
    "Group: {{ incident.assignment_group or '-' }} · Assignee: {{ incident.assignee or '-' }}\n"
    "{{ incident.url }}"
)
_CHAT_LEAD: dict[str, str] = {
    "public_reply": "{{ extra.comment|truncate(300) }}\n",
    "mentioned": "{{ extra.comment|truncate(300) }}\n",
    "sla_warning": "Due {{ extra.clock.due|when }}.\n",
    "sla_breached": "Was due {{ extra.clock.due|when }}.\n",
}

_ROW = '"%-30s %14s %14s %12s"|format('
_REPORT_EMAIL = Template(
    "Weekly report {{ extra.week }} ({{ extra.week_start }} to {{ extra.week_end }})",
    "Hello {{ extra.recipient }},\n\n"
    "these are the figures of week {{ extra.week }} ({{ extra.week_start }} to "
    "{{ extra.week_end }}, UTC)\nfor the incidents you can see, with week "
    "{{ extra.previous_week }} for comparison.\n\n"
    "{{ " + _ROW + '"", "This week", "Previous", "Change") }}\n'
    "{% for f in extra.figures %}{{ " + _ROW + "f.label, f.current, f.previous, f.change) }}\n"
    "{% endfor %}\n"
    "Backlog now: {{ extra.backlog.open }} open incidents, {{ extra.backlog.over_7d }} of them "
    "opened more than 7 days ago"
    "{% if extra.backlog.oldest %} (the oldest {{ extra.backlog.oldest }} ago){% endif %}.\n\n"
    "Times, SLA and satisfaction are over the incidents opened in the week; resolved counts\n"
    "the incidents resolved in it. The dashboard: {{ extra.url }}\n\n"
    "--\nDutyDesk sent this report because you subscribed to it. You can unsubscribe in\n"
    "your notification preferences (event weekly_report).\n",
)

BUILTIN: dict[tuple[str, str], Template] = {("weekly_report", "email"): _REPORT_EMAIL}
for _event in EVENTS:
    BUILTIN[(_event, "email")] = _EMAIL[_event]
    for _chat in ("slack", "teams"):
        BUILTIN[(_event, _chat)] = Template(
            _CHAT_SUBJECT[_event], _CHAT_LEAD.get(_event, "") + _CHAT_BODY
        )
