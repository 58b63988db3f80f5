"""Training the triage models from the installation's own resolved incidents.

Reading, fitting and storing are three steps with their own transactions: the rows are read
in a read transaction, the model is fitted with no transaction open (it takes seconds to
minutes), and the new version is stored in a short write transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from dutydesk.config import Settings
from dutydesk.db import Database
from dutydesk.triage import queries, service
from dutydesk.triage.text import ThinData, check_trainable


@dataclass
class Outcome:
    """One target's training: the stored version, or why nothing was stored."""

    target: str
    version: int | None = None
    n_examples: int = 0
    n_classes: int = 0
    rows_read: int = 0
    seconds: float = 0.0
    skipped: str | None = None
    labels: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "version": self.version,
            "n_examples": self.n_examples,
            "n_classes": self.n_classes,
            "rows_read": self.rows_read,
            "seconds": round(self.seconds, 2),
            "skipped": self.skipped,
        }


def train_from_incidents(
    db: Database, settings: Settings, targets: list[str], *, min_examples: int | None = None
) -> list[Outcome]:
    """Train and store each target that has enough history; the others say why not."""
    needed = settings.triage_min_examples if min_examples is None else min_examples
    outcomes = []
    for name in targets:
        target = service.check_target(name)
        outcome = Outcome(name)
        with db.unit_of_work(write=False) as session:
            examples, outcome.rows_read = queries.training_examples(
                session, target, settings.triage_max_training_incidents
            )
        outcome.n_examples = len(examples)
        started = time.perf_counter()
        try:
            if target.field is None and queries.REQUEST not in examples.labels:
                raise ThinData(
                    "no incident was cancelled as a service request yet (cancel reason "
                    f"naming {queries.REQUEST_MARK!r}), so there is nothing to learn from"
                )
            check_trainable(examples, needed)
            # deferred: scikit-learn loads only when there is something to fit (a worker
            # on a young database checks every retrain and stops above, in milliseconds)
            from dutydesk.triage.model import TextClassifier

            model = TextClassifier.fit(examples, min_examples=needed)
        except ThinData as exc:
            outcome.skipped = str(exc)
            outcomes.append(outcome)
            continue
        outcome.seconds = time.perf_counter() - started
        outcome.n_classes = len(model.classes)
        with db.unit_of_work() as session:
            row = service.store_model(
                session,
                settings,
                name,
                model,
                source="incidents",
                metrics={"rows_read": outcome.rows_read, "fit_seconds": round(outcome.seconds, 2)},
            )
            outcome.version = row.version
        outcomes.append(outcome)
    return outcomes
