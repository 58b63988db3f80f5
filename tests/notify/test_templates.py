"""The built-in templates and the sandbox (pure: no database)."""

from __future__ import annotations

import pytest

from dutydesk.notify import templates
from dutydesk.notify.templates import (
    BUILTIN,
    EVENTS,
    TEMPLATE_CHANNELS,
    Template,
    TemplateProblem,
    one_line,
    render,
    sample_context,
)

BASE = "https://desk.example"


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("channel", TEMPLATE_CHANNELS)
def test_every_builtin_renders_with_and_without_the_optional_extra(
    event: str, channel: str
) -> None:
    template = BUILTIN[(event, channel)]
    templates.check(event, channel, template, base_url=BASE)
    full = render(channel, template, sample_context(event, base_url=BASE))
    assert "INC0000123" in full.subject + full.body
    assert f"{BASE}/incidents/INC0000123" in full.body
    assert "\n" not in full.subject
    for key in templates.REQUIRED_EXTRA[event]:
        value = sample_context(event, base_url=BASE)["extra"][key]
        if isinstance(value, str) and value.startswith("https://") and channel == "email":
            assert value in full.body  # confirm, reject and survey links are in the mail


def test_email_is_plain_text_and_chat_escapes_user_text() -> None:
    context = sample_context("public_reply", base_url=BASE)
    context["extra"]["comment"] = "<!channel> a < b & c > d"
    mail = render("email", BUILTIN[("public_reply", "email")], context)
    assert "<!channel> a < b & c > d" in mail.body
    chat = render("slack", BUILTIN[("public_reply", "slack")], context)
    assert "&lt;!channel&gt; a &lt; b &amp; c &gt; d" in chat.body
    assert "<!channel>" not in chat.body


def test_subjects_are_one_line_and_bounded() -> None:
    context = sample_context("assigned", base_url=BASE)
    context["incident"]["short_description"] = "a\r\nb\tc\u2028d\x00e" + "x" * 1000
    rendered = render("email", BUILTIN[("assigned", "email")], context)
    assert rendered.subject.startswith("Assigned to Alice Agent: a b c d e")
    assert len(rendered.subject) == templates.MAX_SUBJECT
    assert one_line("  one\r\n\r\n two\x85three ") == "one two three"


@pytest.mark.parametrize(
    ("source", "line", "fragment"),
    [
        ("ok\n{% for %}", 2, "does not compile"),
        ("{{ incident.__class__ }}", 1, "is not allowed"),
        ("\n\n{{ lipsum.__globals__ }}", 3, "is not allowed"),
        ("{{ incident.update(number='X') }}", 1, "is not allowed"),  # immutable data
        ("{{ 'ab' * 60000 }}", 1, "too large"),
        ("{{ 9 ** 999 }}", 1, "exponents"),
        ("{{ 'x'.ljust(10000000) }}", 1, "not allowed in calls"),
        ("{{ range(10) | list }}\n{{ nope }}", 2, "'nope' is undefined"),
        ("{{ 1 / 0 }}", 1, "division by zero"),
    ],
)
def test_the_sandbox_refuses_and_names_the_line(source: str, line: int, fragment: str) -> None:
    with pytest.raises(TemplateProblem) as caught:
        render("email", Template("s", source), sample_context("assigned", base_url=BASE))
    assert caught.value.part == "body" and caught.value.line == line
    assert fragment in str(caught.value)


def test_when_formats_iso_instants() -> None:
    context = sample_context("sla_warning", base_url=BASE)
    out = render("email", Template("{{ extra.clock.due|when }}", "{{ 'soon'|when }}"), context)
    assert (out.subject, out.body) == ("2026-11-23 17:14 UTC", "soon")
