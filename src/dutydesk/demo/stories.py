"""Planning demo incidents: for each one, who opens it, when, and every later step (pure)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from dutydesk.demo import data, texts
from dutydesk.demo.reference import Refs
from dutydesk.incidents.lifecycle import Status
from dutydesk.incidents.schemas import ActionRequest, Channel, IncidentCreate, IncidentPatch

OLDEST = timedelta(days=89)  # every incident opens within the last 90 days
# How long ago an incident's last step may lie, by final state: open work is recent,
# closed and cancelled incidents spread over the whole period.
LAST_STEP_AGO: dict[Status, tuple[timedelta, timedelta]] = {
    Status.new: (timedelta(minutes=5), timedelta(days=2)),
    Status.assigned: (timedelta(minutes=10), timedelta(days=4)),
    Status.in_progress: (timedelta(minutes=10), timedelta(days=7)),
    Status.pending_user: (timedelta(hours=1), timedelta(days=14)),
    Status.pending_vendor: (timedelta(hours=1), timedelta(days=14)),
    Status.pending_change: (timedelta(hours=1), timedelta(days=14)),
    # under the 3 business days after which the worker closes unanswered resolutions
    Status.resolved: (timedelta(minutes=10), timedelta(days=2)),
    Status.closed: (timedelta(hours=1), OLDEST),
    Status.cancelled: (timedelta(hours=1), OLDEST),
}
STATE_WEIGHTS: dict[Status, int] = {
    Status.new: 7,
    Status.assigned: 8,
    Status.in_progress: 12,
    Status.pending_user: 5,
    Status.pending_vendor: 4,
    Status.pending_change: 4,
    Status.resolved: 10,
    Status.closed: 44,
    Status.cancelled: 6,
}
SPEED = {1: 0.2, 2: 0.5, 3: 1.0, 4: 1.5, 5: 2.0}  # P1 moves five times faster than P3
_SERVICES = {s.name: s for s in data.SERVICES}
_PEOPLE = {p.username: p for p in data.PEOPLE}


@dataclass(frozen=True)
class Step:
    """One thing done to the incident `after` the previous step, by `actor` (a username)."""

    after: timedelta
    actor: str
    action: str | None = None
    request: ActionRequest | None = None
    comment: str | None = None
    visibility: str = "work_note"
    patch: IncidentPatch | None = None
    survey: tuple[int, str | None] | None = None  # the caller's rating after closure


@dataclass(frozen=True)
class Plan:
    open_at: datetime
    opener: str
    incident: IncidentCreate
    steps: tuple[Step, ...]
    state: Status  # the state the steps end in

    @property
    def span(self) -> timedelta:
        return sum((s.after for s in self.steps), timedelta())


def plan_incidents(
    rng: random.Random, refs: Refs, *, count: int, now: datetime, reopen_window: timedelta
) -> list[Plan]:
    """`count` plans in opening order; every state appears once count reaches nine."""
    states = list(Status)
    if count < len(states):
        states = rng.sample(states, count)
    else:
        states += rng.choices(
            list(STATE_WEIGHTS), weights=list(STATE_WEIGHTS.values()), k=count - len(states)
        )
    plans = [_plan(rng, refs, state, now, reopen_window) for state in states]
    return sorted(plans, key=lambda p: p.open_at)


def _plan(
    rng: random.Random, refs: Refs, state: Status, now: datetime, reopen_window: timedelta
) -> Plan:
    story = _Story(rng, refs, rng.choice(texts.TEMPLATES), state, reopen_window)
    story.tell()
    steps = tuple(story.steps)
    span = sum((s.after for s in steps), timedelta())
    low, high = LAST_STEP_AGO[state]
    high = max(low, min(high, OLDEST - span))  # the incident must open inside the period
    last_ago = timedelta(seconds=int(rng.uniform(low.total_seconds(), high.total_seconds())))
    open_at = max(now.replace(microsecond=0) - last_ago - span, now - OLDEST)
    if story.channel != Channel.monitoring and not 7 <= open_at.hour < 19:
        # People report during office hours (UTC here): move night reports by half a day.
        earlier = open_at - timedelta(hours=12)
        open_at = earlier if earlier >= now - OLDEST else open_at + timedelta(hours=12)
    return Plan(open_at, story.opener, story.create(), steps, state)


def _members(group: str) -> list[str]:
    return [p.username for p in data.PEOPLE if p.group == group]


class _Story:
    """Builds one incident's history: logging, routing, work, pauses, resolution, closure."""

    def __init__(
        self,
        rng: random.Random,
        refs: Refs,
        template: texts.Template,
        state: Status,
        reopen_window: timedelta,
    ) -> None:
        self.rng, self.refs, self.t, self.state = rng, refs, template, state
        self.reopen_window = reopen_window
        self.steps: list[Step] = []
        self.impact, self.urgency = template.impact, template.urgency
        self.desk = rng.choice(_members("desk"))
        self.group = template.group
        self.resolver = self.desk if self.group == "desk" else rng.choice(_members(self.group))
        service = _SERVICES[template.service]
        if template.internal:
            self.customer: str | None = None
            self.caller = rng.choice(_members("apps") + _members("infra"))
            self.channel = rng.choice([Channel.phone, Channel.chat, Channel.email])
        else:
            self.customer = service.customer or rng.choice(data.CUSTOMERS).name
            requesters = [p.username for p in data.PEOPLE if p.customer == self.customer]
            self.caller = rng.choice(requesters)
            self.channel = self._pick_channel()
            if self.channel in (Channel.monitoring, Channel.observation):
                if state == Status.pending_user:  # an alert has nobody to ask
                    self.channel = Channel.phone
                else:
                    self.caller = self.desk
        self.opener = self.caller if self.channel == Channel.portal else self.desk
        # The desk sometimes routes while logging; a new incident has no group yet.
        self.assigned_at_open = (
            self.opener == self.desk and state != Status.new and rng.random() < 0.3
        )
        self.assignee_at_open = self.resolver if rng.random() < 0.6 else None

    def _pick_channel(self) -> Channel:
        choices = [(Channel(name), weight) for name, weight in texts.CHANNELS]
        if self.t.group != "infra":  # alerts and staff observations are about systems
            choices = [
                (c, w) for c, w in choices if c not in (Channel.monitoring, Channel.observation)
            ]
        return self.rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]

    # ------------------------------------------------------------ building blocks

    @property
    def caller_is_requester(self) -> bool:
        return _PEOPLE[self.caller].role == "requester"

    @property
    def priority(self) -> int:
        return min(5, self.impact + self.urgency - 1)

    def wait(self, low_minutes: float, high_minutes: float) -> timedelta:
        minutes = self.rng.uniform(low_minutes, high_minutes) * SPEED[self.priority]
        return timedelta(seconds=max(30, int(minutes * 60)))

    def name(self, username: str) -> str:
        return _PEOPLE[username].first_name

    def note(self, actor: str, text: str, after: timedelta) -> None:
        self.steps.append(Step(after, actor, comment=text, visibility="work_note"))

    def reply(self, actor: str, text: str, after: timedelta) -> None:
        self.steps.append(Step(after, actor, comment=text, visibility="public"))

    def act(self, actor: str, action: str, after: timedelta, **request: object) -> None:
        self.steps.append(
            Step(after, actor, action=action, request=ActionRequest.model_validate(request))
        )

    def ref(self) -> str:
        return f"{self.rng.randrange(10**6, 10**7)}"

    def create(self) -> IncidentCreate:
        t, refs = self.t, self.refs
        description = t.description
        if self.channel == Channel.monitoring:
            description = f"Alert from monitoring on {t.ci or t.service}: {t.short.lower()}."
        elif self.channel == Channel.observation:
            description = f"Noticed by the service desk while checking {t.service}: {t.short}."
        values: dict[str, object] = {
            "short_description": t.short,
            "description": description,
            "channel": self.channel,
            "caller_id": refs.users[self.caller],
            "customer_id": refs.customers[self.customer] if self.customer else None,
            "service_id": refs.services[t.service],
            "ci_id": refs.cis[t.ci] if t.ci else None,
            "category_id": refs.categories[t.category],
            "subcategory_id": refs.categories[f"{t.category}/{t.subcategory}"],
            "impact": t.impact,
            "urgency": t.urgency,
        }
        if self.assigned_at_open:
            values["assignment_group_id"] = refs.groups[self.group]
            if self.assignee_at_open:
                values["assignee_id"] = refs.users[self.assignee_at_open]
        return IncidentCreate.model_validate(values)

    # ------------------------------------------------------------ the story

    def tell(self) -> None:
        state = self.state
        if state == Status.new:
            self._untouched()
            return
        if state == Status.cancelled:
            self._cancelled()
            return
        self._route()
        if state == Status.assigned:
            if self.rng.random() < 0.4 and self.caller_is_requester:
                self.reply(self.caller, self.rng.choice(texts.CALLER_CHASERS), self.wait(60, 600))
            return
        self._work()
        if state == Status.in_progress:
            if self.rng.random() < 0.5:
                text = self.rng.choice(texts.AGENT_REPLIES).format(name=self.name(self.caller))
                self.reply(self.resolver, text, self.wait(5, 60))
            return
        if state in (Status.pending_user, Status.pending_vendor, Status.pending_change):
            self._pend(state)
            return
        if self.rng.random() < 0.3 and self.caller != self.desk:
            self._pend(Status.pending_user)
            self.reply(self.caller, self.rng.choice(texts.CALLER_REPLIES), self.wait(60, 1440))
            self.act(self.resolver, "resume", self.wait(10, 120), reason="Caller replied.")
        self._resolve()
        if state == Status.closed:
            if self.rng.random() < 0.15 and self.reopen_window >= timedelta(days=1):
                self._reopen()
            self._close()

    def _untouched(self) -> None:
        roll = self.rng.random()
        if roll < 0.3 and self.opener != self.caller and self.caller_is_requester:
            self.reply(self.caller, self.rng.choice(texts.CALLER_CHASERS), self.wait(30, 600))
        elif roll < 0.5:
            self.note(self.desk, self.rng.choice(texts.FIRST_LINE_NOTES), self.wait(5, 120))

    def _cancelled(self) -> None:
        actor = self.desk
        if self.rng.random() < 0.5:
            self._route()
            actor = self.resolver
        self.act(actor, "cancel", self.wait(30, 2880), reason=self.rng.choice(texts.CANCEL_REASONS))

    def _route(self) -> None:
        """To the resolver group: while logging, by the desk directly, or by escalation."""
        if self.assigned_at_open:
            return
        group_id = self.refs.groups[self.group]
        if self.group == "desk" or self.rng.random() < 0.5:
            assignee = self.refs.users[self.resolver] if self.rng.random() < 0.6 else None
            self.act(self.desk, "assign", self.wait(5, 90), group_id=group_id, assignee_id=assignee)
            return
        desk = self.refs.users[self.desk]
        self.act(
            self.desk,
            "assign",
            self.wait(3, 60),
            group_id=self.refs.groups["desk"],
            assignee_id=desk,
        )
        self.act(self.desk, "start", self.wait(1, 30))
        self.note(self.desk, self.rng.choice(texts.FIRST_LINE_NOTES), self.wait(5, 45))
        self.act(
            self.desk,
            "escalate",
            self.wait(5, 60),
            group_id=group_id,
            assignee_id=self.refs.users[self.resolver] if self.rng.random() < 0.5 else None,
            reason=self.rng.choice(texts.ESCALATION_REASONS),
        )

    def _work(self) -> None:
        self.act(self.resolver, "start", self.wait(10, 600))
        self.note(self.resolver, self.rng.choice(texts.RESOLVER_NOTES), self.wait(10, 240))
        if self.rng.random() < 0.2:
            self._reprioritise()
        vendor_state = self.state in (Status.in_progress, Status.resolved, Status.closed)
        if self.t.vendor and vendor_state and self.rng.random() < 0.5:
            vendor = self.rng.choice(_members("vendor"))
            self.act(
                self.resolver,
                "escalate",
                self.wait(30, 240),
                group_id=self.refs.groups["vendor"],
                assignee_id=self.refs.users[vendor],
                reason=self.rng.choice(texts.VENDOR_ESCALATION_REASONS),
            )
            self.resolver = vendor
            self.act(vendor, "start", self.wait(30, 480))
            self.note(vendor, self.rng.choice(texts.RESOLVER_NOTES), self.wait(30, 480))

    def _reprioritise(self) -> None:
        """PRI-2: the incident manager or the resolver re-assesses impact or urgency."""
        actor = "irene" if self.rng.random() < 0.5 else self.resolver
        if self.impact > 1 and self.rng.random() < 0.6:
            self.impact -= 1
            patch = IncidentPatch(
                impact=self.impact, reason=self.rng.choice(texts.PRIORITY_UP_REASONS)
            )
        elif self.urgency < 3:
            self.urgency += 1
            patch = IncidentPatch(
                urgency=self.urgency, reason=self.rng.choice(texts.PRIORITY_DOWN_REASONS)
            )
        else:
            self.urgency -= 1
            patch = IncidentPatch(
                urgency=self.urgency, reason=self.rng.choice(texts.PRIORITY_UP_REASONS)
            )
        self.steps.append(Step(self.wait(15, 240), actor, patch=patch))

    def _pend(self, target: Status) -> None:
        ref = self.ref()
        if target == Status.pending_user:
            question = self.rng.choice(texts.QUESTIONS).format(name=self.name(self.caller))
            self.reply(self.resolver, question, self.wait(10, 120))
            reason = self.rng.choice(texts.USER_PENDING_REASONS)
        elif target == Status.pending_vendor:
            reason = self.rng.choice(texts.VENDOR_PENDING_REASONS).format(ref=ref)
        else:
            reason = self.rng.choice(texts.CHANGE_PENDING_REASONS).format(ref=ref)
        self.act(self.resolver, "pend", self.wait(1, 20), target=target, reason=reason)

    def _resolve(self) -> None:
        t = self.t
        self.note(self.resolver, self.rng.choice(texts.RESOLVER_NOTES), self.wait(30, 600))
        self.act(
            self.resolver,
            "resolve",
            self.wait(30, 1440),
            resolution_code=t.code,
            resolution_notes=t.fix,
            is_workaround=t.workaround,
        )
        text = f"Hello {self.name(self.caller)}, this should be solved now: {t.fix}"
        self.reply(self.resolver, text, self.wait(1, 10))

    def _reopen(self) -> None:
        """ROP-1: the caller reopens within the window; the resolver fixes it for good."""
        latest = min(self.reopen_window / 2, timedelta(days=1))  # well inside the window
        after = timedelta(seconds=int(self.rng.uniform(3600, latest.total_seconds())))
        self.act(self.caller, "reopen", after, reason=self.rng.choice(texts.REOPEN_REASONS))
        self.note(self.resolver, "Reopened by the caller; looking again.", self.wait(10, 120))
        self.act(
            self.resolver,
            "resolve",
            self.wait(60, 1440),
            resolution_code=self.t.code,
            resolution_notes=f"{self.t.fix} After the reopening the root cause was fixed as well.",
            is_workaround=False,
        )

    def _close(self) -> None:
        requester_caller = self.caller_is_requester
        if requester_caller and self.rng.random() < 0.6:
            self.reply(self.caller, self.rng.choice(texts.CALLER_THANKS), self.wait(30, 1440))
            self.act(self.caller, "confirm", self.wait(1, 5))
            if self.rng.random() < 0.6:
                rating = self.rng.choices((5, 4, 3, 2, 1), weights=(50, 30, 10, 6, 4))[0]
                said = self.rng.random() < 0.6
                comment = self.rng.choice(texts.SURVEY_COMMENTS[rating]) if said else None
                self.steps.append(Step(self.wait(2, 600), self.caller, survey=(rating, comment)))
        else:
            self.act(
                self.desk,
                "close",
                self.wait(2880, 7200),
                reason=self.rng.choice(
                    texts.CLOSE_REASONS if requester_caller else texts.STAFF_CLOSE_REASONS
                ),
            )
