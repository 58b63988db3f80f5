"""Triage writes: storing trained models, suggesting (and applying) at an incident's creation,
and accepting, dismissing or reverting a suggestion. Never commits.

Models are read back only after their HMAC (key: the installation's secret key) matched
their bytes, and cached per process by version; which versions are active is read at most
every ACTIVE_CHECK_SECONDS, so a creation with no model usually costs no query. Applied
suggestions go through ``incidents.changes`` like any logged change, and a
``triage_applied`` event names the model version, the confidence and the words that drove it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, require_staff, system_actor
from dutydesk.catalog import queries as catalog
from dutydesk.config import Settings
from dutydesk.incidents import changes, confirmation, history, notices
from dutydesk.incidents.lifecycle import TERMINAL, Action, Status
from dutydesk.kernel import clock
from dutydesk.kernel.errors import Conflict, InvalidInput, NotFound
from dutydesk.models import Incident, TriageModel, TriageSuggestion
from dutydesk.people import queries as people
from dutydesk.sla import service as sla
from dutydesk.triage import queries
from dutydesk.triage.queries import REQUEST, TARGETS, Target
from dutydesk.triage.text import Prediction, TamperedModel, sign

if TYPE_CHECKING:
    from dutydesk.triage.model import TextClassifier

ACTOR = system_actor(channel="triage", name="triage")
APPLY_ORDER = ("category", "group", "request")
_CACHE: dict[tuple[str, int, str], TextClassifier] = {}
_ACTIVE: dict[str, tuple[float, dict[str, tuple[int, str]]]] = {}
ACTIVE_CHECK_SECONDS = 10.0
_LOCK = threading.Lock()


def _key(session: Session, settings: Settings) -> bytes:
    return confirmation.secret_key(session, settings).encode()


def _url(session: Session) -> str:
    return session.get_bind().engine.url.render_as_string(hide_password=True)


# ----------------------------------------------------------------------------- models


def store_model(
    session: Session,
    settings: Settings,
    target: str,
    model: TextClassifier,
    *,
    source: str,
    metrics: dict[str, Any] | None = None,
) -> TriageModel:
    """Store a new signed version for the target and make it the active one."""
    from dutydesk.triage.model import dumps  # cycle: none; deferred, see _load below

    blob = dumps(model)
    session.execute(
        update(TriageModel)
        .where(TriageModel.target == target, TriageModel.active.is_(True))
        .values(active=False)
    )
    row = TriageModel(
        version=queries.next_version(session),
        target=target,
        source=source,
        trained_at=clock.now(),
        n_examples=model.n_examples,
        n_classes=len(model.classes),
        metrics={"temperature": round(model.temperature, 4), **(metrics or {})},
        size_bytes=len(blob),
        data=blob,
        signature=sign(_key(session, settings), blob),
        active=True,
    )
    session.add(row)
    session.flush()
    _ACTIVE.pop(_url(session), None)  # this process uses it at once
    return row


def load_model(
    session: Session, settings: Settings, version: int, signature: str | None = None
) -> TextClassifier:
    """The stored model of that version (verified, then cached for the process). The cache
    key holds the signature: a version number rolled back and reused is another model."""
    url = _url(session)
    if signature is not None:
        cached = _CACHE.get((url, version, signature))
        if cached is not None:
            return cached
    row = queries.get_model_row(session, version)
    if row is None:
        raise NotFound(f"no triage model version {version}")
    model = _load(row.data, row.signature, _key(session, settings))
    with _LOCK:
        for old in [k for k in _CACHE if k[0] == url and k[1] < version - 8]:
            del _CACHE[old]
        _CACHE[(url, version, row.signature)] = model
    return model


def _load(blob: bytes, signature: str, key: bytes) -> TextClassifier:
    # cycle: none; deferred: scikit-learn takes seconds and ~100 MB to import, and every
    # process that opens incidents imports this module, most of them never loading a model
    from dutydesk.triage.model import loads

    return loads(blob, signature, key)


def forget_models() -> None:
    """Drop this process's loaded models and active versions (tests)."""
    with _LOCK:
        _CACHE.clear()
        _ACTIVE.clear()


def _active_versions(session: Session) -> dict[str, tuple[int, str]]:
    """The active versions, read at most every ACTIVE_CHECK_SECONDS per process: creating an
    incident costs no query at all most of the time, and a model stored by another process
    (the worker) is in use within that many seconds."""
    url = _url(session)
    now = time.monotonic()
    seen = _ACTIVE.get(url)
    if seen is not None and now - seen[0] < ACTIVE_CHECK_SECONDS:
        return seen[1]
    versions = queries.active_versions(session)
    _ACTIVE[url] = (now, versions)
    return versions


def active_models(
    session: Session, settings: Settings, targets: tuple[str, ...] = APPLY_ORDER
) -> dict[str, tuple[int, TextClassifier]]:
    found: dict[str, tuple[int, TextClassifier]] = {}
    for target, (version, signature) in _active_versions(session).items():
        if target in targets:
            try:
                found[target] = (version, load_model(session, settings, version, signature))
            except (TamperedModel, NotFound):
                continue  # never applied; `dutydesk triage status` shows the problem
    return found


# ----------------------------------------------------------------------------- at creation


@dataclass(frozen=True)
class Choice:
    """A prediction resolved to a value of the incident (a category or group that exists)."""

    value: str
    label: str
    ref: Any = None


def suggest_at_creation(
    session: Session, settings: Settings, actor: Actor, incident: Incident
) -> list[TriageSuggestion]:
    """Suggest what the caller left empty; apply the confident ones (TRI-<target>)."""
    models = active_models(session, settings)
    if not models:
        return []
    text, fields = queries.text_of(incident), queries.fields_of(incident)
    made = []
    for name in APPLY_ORDER:
        if name not in models:
            continue
        target = TARGETS[name]
        if target.field is not None and getattr(incident, target.field) is not None:
            continue
        version, model = models[name]
        prediction = model.predict(text, fields)
        choice = _choice(session, target, prediction)
        if choice is None or prediction.confidence < settings.triage_min_confidence:
            continue
        threshold = settings.triage_auto_apply_confidence
        auto = target.field is not None and 0 < threshold <= prediction.confidence
        row = TriageSuggestion(
            incident=incident,
            model_version=version,
            target=name,
            field=target.field,
            value=choice.value,
            label=choice.label,
            confidence=round(prediction.confidence, 4),
            words=prediction.words,
            status="applied" if auto else "pending",
            previous=None,
            created_at=clock.now(),
        )
        session.add(row)
        if auto:
            _apply(session, ACTOR, incident, row, choice, "triage_applied")
        made.append(row)
    return made


def _choice(session: Session, target: Target, prediction: Prediction) -> Choice | None:
    """The predicted label as an existing, usable value (a top-level category, an active
    group); None when it no longer is one."""
    label = prediction.label
    if target.field is None:
        return Choice(REQUEST, "service request") if label == REQUEST else None
    if not label.isdigit():
        return None
    try:
        if target.name == "category":
            category = catalog.get_category(session, int(label))
            if category.parent_id is not None:
                return None
            return Choice(label, category.name, category)
        group = people.get_group(session, int(label))
    except NotFound:
        return None
    if not group.is_active:  # a disbanded team gets no new work
        return None
    return Choice(label, group.name, group)


def reason_of(row: TriageSuggestion) -> str:
    words = ", ".join(row.words) if row.words else "no single word stood out"
    return (
        f"triage model v{row.model_version}: {row.label} at confidence {row.confidence:.2f} "
        f"(words: {words})"
    )


def _apply(
    session: Session,
    actor: Actor,
    incident: Incident,
    row: TriageSuggestion,
    choice: Choice,
    kind: str,
) -> None:
    reason = reason_of(row)
    rule_id = f"TRI-{row.target}"
    if row.target == "category":
        changes.set_field(session, actor, incident, "category_id", int(row.value), rule_id)
    elif row.target == "group":
        changes.apply_assignment(session, actor, incident, choice.ref, None, Action.assign, reason)
    history.record(
        session,
        incident,
        actor,
        kind,
        field=row.field or row.target,
        new=row.value,
        reason=reason,
        rule_id=rule_id,
    )


# ----------------------------------------------------------------------------- decisions


def _decide(row: TriageSuggestion, actor: Actor, status: str, note: str | None) -> None:
    row.status = status
    row.decided_at = clock.now()
    row.decided_by_id = actor.user_id
    row.note = note


def _open_for_triage(incident: Incident) -> None:
    if Status(incident.state) in TERMINAL:
        raise Conflict(f"{incident.number} is {incident.state}; its record is read-only")


def accept(
    session: Session,
    settings: Settings,
    actor: Actor,
    incident: Incident,
    row: TriageSuggestion,
    *,
    note: str | None = None,
) -> TriageSuggestion:
    """Apply a pending suggestion as the accepting agent (only into a field still empty)."""
    require_staff(actor)
    _open_for_triage(incident)
    if row.status != "pending":
        raise Conflict(f"suggestion {row.id} is {row.status}, not pending")
    target = TARGETS[row.target]
    if target.field is not None and getattr(incident, target.field) is not None:
        raise Conflict(f"{incident.number}'s {target.field} was set since; nothing applied")
    choice = _choice(session, target, _as_prediction(row))
    if choice is None:
        raise Conflict(f"{row.label} can no longer be applied (removed or now a subcategory)")
    old_state, old_owner = incident.state, (incident.assignment_group_id, incident.assignee_id)
    _apply(session, actor, incident, row, choice, "triage_accepted")
    _decide(row, actor, "accepted", note)
    changes.touch(incident)
    sla.sync_clocks(session, actor, incident)
    notices.after_action(
        session,
        settings,
        actor,
        incident,
        Action.assign,
        old_state=old_state,
        old_owner=old_owner,
        reason=note,
    )
    return row


def _as_prediction(row: TriageSuggestion) -> Prediction:
    label = row.value
    return Prediction(label, row.confidence, [(label, row.confidence)], list(row.words))


def dismiss(
    session: Session, actor: Actor, incident: Incident, row: TriageSuggestion, *, note: str | None
) -> TriageSuggestion:
    require_staff(actor)
    if row.status != "pending":
        raise Conflict(f"suggestion {row.id} is {row.status}, not pending")
    _decide(row, actor, "dismissed", note)
    history.record(
        session,
        incident,
        actor,
        "triage_dismissed",
        field=row.field or row.target,
        old=row.value,
        reason=note or reason_of(row),
        rule_id="TRI-D",
    )
    return row


def revert(
    session: Session, actor: Actor, incident: Incident, row: TriageSuggestion, *, note: str | None
) -> TriageSuggestion:
    """Undo an applied suggestion: the field returns to empty, and an assignment made by
    triage returns the incident to 'new' (TRI-R). Refused (409) once anyone changed it."""
    require_staff(actor)
    _open_for_triage(incident)
    if row.status not in ("applied", "accepted") or row.field is None:
        raise Conflict(f"suggestion {row.id} is {row.status}; only an applied one is reverted")
    current = getattr(incident, row.field)
    if current is None or str(current) != row.value:
        raise Conflict(
            f"{incident.number}'s {row.field} no longer holds {row.label}; nothing reverted"
        )
    why = note or f"reverted: {reason_of(row)}"
    if row.field == "category_id":
        changes.set_field(session, actor, incident, "subcategory_id", None, "TRI-R")
        changes.set_field(session, actor, incident, "category_id", None, "TRI-R")
    else:
        _unassign(session, actor, incident, why)
    history.record(
        session,
        incident,
        actor,
        "triage_reverted",
        field=row.field,
        old=row.value,
        new=row.previous,
        reason=why,
        rule_id="TRI-R",
    )
    _decide(row, actor, "reverted", note)
    changes.touch(incident)
    sla.sync_clocks(session, actor, incident)
    return row


def _unassign(session: Session, actor: Actor, incident: Incident, why: str) -> None:
    if incident.assignee_id is not None or incident.state not in (Status.new, Status.assigned):
        raise Conflict(
            f"{incident.number} was picked up since triage assigned it ({incident.state}); "
            "reassign it instead"
        )
    changes.set_field(session, actor, incident, "assignment_group_id", None, "TRI-R")
    changes.set_state(session, actor, incident, Status.new, why, "TRI-R")


def check_target(name: str) -> Target:
    if name not in TARGETS:
        raise InvalidInput(
            f"unknown target {name!r}",
            errors=[{"field": "target", "msg": f"one of {', '.join(TARGETS)}"}],
        )
    return TARGETS[name]
