"""Benchmark: learned triage and similar incidents.

1. Training time for ``--train`` (default 50,000) generated incidents (``triage.synthetic``:
   6 classes, noise words, 30 % ambiguous, 8 % mislabelled, a customer and a channel field),
   against fitting the feature extraction alone on the same texts (the baseline: what reading
   the text costs). Median of ``--runs`` alternating runs.
2. Prediction latency per incident (vectorize, 3 calibrated probabilities, explanation) over
   ``--queries`` texts, against a bare ``TfidfVectorizer.transform`` of the same text with the
   model's own word vectorizer. Target: p95 < 20 ms.
3. Memory of the loaded model (tracemalloc peak while unpickling the stored bytes) and the
   stored size.
4. Similar incidents at ``--incidents`` (default 100,000) resolved incidents in a SQLite file
   (and PostgreSQL when reachable, ``--backend``): the index build, then
   ``similar_incidents`` as an agent (visibility filter on) per query, against a primary-key
   lookup of one incident in the same session. Target: p95 < 50 ms.

    .venv/bin/python bench/triage.py
    .venv/bin/python bench/triage.py --train 20000 --incidents 20000 --backend sqlite
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import random
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import (
    banner,
    machine_info,
    median,
    ms,
    percentile,
    pg_database,
    pg_reachable,
    say,
    table,
    verdict,
)

if importlib.util.find_spec("dutydesk") is None:  # a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from sqlalchemy import insert, select

from dutydesk.access.policy import Actor, Role
from dutydesk.db import Database, make_engine
from dutydesk.migrate import upgrade
from dutydesk.models import Incident
from dutydesk.triage import similar
from dutydesk.triage.features import Featurizer
from dutydesk.triage.model import TextClassifier, dumps, loads
from dutydesk.triage.synthetic import tickets
from dutydesk.triage.text import Examples, document, sign

CUSTOMERS = ["acme", "globex", "initech", "umbrella", ""]
CHANNELS = ["phone", "email", "portal", "api"]


def generated(n: int, seed: int) -> Examples:
    rng = random.Random(seed)
    examples = Examples()
    for t in tickets(n, seed=seed):
        fields = {"customer": rng.choice(CUSTOMERS), "channel": rng.choice(CHANNELS)}
        examples.add(document(t.short_description, t.description), fields, t.label)
    return examples


def timed(fn: Callable[[], object]) -> float:
    gc.collect()
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def bench_training(n: int, runs: int) -> TextClassifier:
    banner(f"training on {n:,} generated incidents (baseline: feature extraction alone)")
    examples = generated(n, seed=1)
    rows, model_times, base_times = [], [], []
    model: TextClassifier | None = None
    for run in range(runs):
        base = timed(lambda: Featurizer(n_classes=6).fit_transform(examples.texts, examples.fields))
        gc.collect()
        started = time.perf_counter()
        model = TextClassifier.fit(examples)
        real = time.perf_counter() - started
        base_times.append(base)
        model_times.append(real)
        rows.append((run + 1, f"{real:.1f} s", f"{base:.1f} s", f"{real / base:.1f}"))
    say(table(("run", "train (fit, calibrate, refit if < 20k)", "features only", "ratio"), rows))
    say(
        f"median: training {median(model_times):.1f} s, features {median(base_times):.1f} s, "
        f"ratio {median(model_times) / median(base_times):.1f}"
    )
    assert model is not None
    return model


def bench_prediction(model: TextClassifier, queries: int) -> None:
    banner(f"prediction per incident over {queries} texts (baseline: word vectorizer transform)")
    examples = generated(queries, seed=99)
    words = model.featurizer.words
    for i in range(20):  # warm-up
        model.predict(examples.texts[i], examples.fields[i])
    real, base = [], []
    for text, fields in zip(examples.texts, examples.fields, strict=True):
        started = time.perf_counter()
        words.transform([text])
        base.append(time.perf_counter() - started)
        started = time.perf_counter()
        model.predict(text, fields)
        real.append(time.perf_counter() - started)
    p95, base95 = percentile(real, 95), percentile(base, 95)
    say(
        table(
            ("", "p50", "p95", "p99"),
            [
                ("predict + explain", ms(percentile(real, 50)), ms(p95), ms(percentile(real, 99))),
                ("word transform", ms(percentile(base, 50)), ms(base95), ms(percentile(base, 99))),
            ],
        )
    )
    say(f"ratio p95 {p95 / base95:.1f}; target p95 < 20 ms: {verdict(p95 < 0.020)}")


def bench_memory(model: TextClassifier) -> None:
    banner("memory of the loaded model")
    blob = dumps(model)
    key = b"k" * 32
    signature = sign(key, blob)
    gc.collect()
    tracemalloc.start()
    loaded = loads(blob, signature, key)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    coef = loaded.estimator.coef_
    say(
        f"stored {len(blob) / 1e6:.1f} MB; loading peaks at {peak / 1e6:.1f} MB "
        f"(coefficients {coef.nbytes / 1e6:.1f} MB, {coef.shape[1]:,} features x "
        f"{coef.shape[0]} rows)"
    )


def seed_incidents(db: Database, n: int) -> None:
    started = time.perf_counter()
    at = datetime(2025, 1, 1, tzinfo=UTC)
    rows = []
    for i, t in enumerate(tickets(n, seed=5)):
        opened = at + timedelta(minutes=5 * i)
        rows.append(
            {
                "number": f"INC{i:07d}",
                "short_description": t.short_description,
                "description": t.description,
                "channel": "phone",
                "impact": 2,
                "urgency": 2,
                "priority": 3,
                "state": "closed" if i % 3 else "resolved",
                "opened_at": opened,
                "updated_at": opened,
                "resolved_at": opened + timedelta(hours=2),
                "resolution_code": "solved",
                "resolution_notes": f"fixed the {t.label} problem",
                "version": 1,
                "escalation_level": 1,
                "reopen_count": 0,
                "reassignment_count": 0,
                "history_count": 0,
                "history_head": "",
            }
        )
    with db.unit_of_work() as session:
        for start in range(0, n, 5000):
            session.execute(insert(Incident), rows[start : start + 5000])
    say(f"seeded {n:,} resolved incidents in {time.perf_counter() - started:.1f} s")


def bench_similar(url: str, n: int, queries: int) -> None:
    engine = make_engine(url, sqlite_synchronous="NORMAL")
    upgrade(engine)
    db = Database(engine)
    seed_incidents(db, n)
    agent = Actor(
        user_id=999_999, name="agent", role=Role.agent, actor_type="user", channel="api",
        group_ids=frozenset(), served_customer_ids=frozenset(),
    )  # fmt: skip
    admin = Actor(user_id=None, name="admin", role=Role.admin, actor_type="user", channel="api")
    similar.forget()
    with db.unit_of_work(write=False) as session:
        build = timed(
            lambda: similar.index_for(session, similar.INCIDENTS, similar.load_resolved, 60)
        )
        index = similar.index_for(session, similar.INCIDENTS, similar.load_resolved, 60)
        say(
            f"index of {index.size:,} incidents built in {build:.1f} s "
            f"({(index.base_t.data.nbytes + index.base_t.indices.nbytes) / 1e6:.0f} MB)"
        )
        texts = [document(t.short_description, t.description) for t in tickets(queries, seed=77)]
        ids = [random.Random(i).randint(1, n) for i in range(queries)]
        for text in texts[:10]:
            similar.similar_incidents(session, admin, text, limit=5, max_age=60)
        real, base, agent_times, found = [], [], [], 0
        for text, ident in zip(texts, ids, strict=True):
            session.expunge_all()
            started = time.perf_counter()
            session.scalar(select(Incident).where(Incident.id == ident))
            base.append(time.perf_counter() - started)
            session.expunge_all()
            started = time.perf_counter()
            found += len(similar.similar_incidents(session, admin, text, limit=5, max_age=60))
            real.append(time.perf_counter() - started)
            session.expunge_all()
            started = time.perf_counter()
            similar.similar_incidents(session, agent, text, limit=5, max_age=60)
            agent_times.append(time.perf_counter() - started)
    p95 = percentile(real, 95)
    say(
        table(
            ("", "p50", "p95", "p99"),
            [
                (
                    "similar (admin, top 5)",
                    ms(percentile(real, 50)),
                    ms(p95),
                    ms(percentile(real, 99)),
                ),
                (
                    "similar (agent, filtered)",
                    ms(percentile(agent_times, 50)),
                    ms(percentile(agent_times, 95)),
                    ms(percentile(agent_times, 99)),
                ),
                (
                    "primary-key lookup",
                    ms(percentile(base, 50)),
                    ms(percentile(base, 95)),
                    ms(percentile(base, 99)),
                ),
            ],
        )
    )
    say(
        f"{found / queries:.1f} results per query; ratio p50 "
        f"{percentile(real, 50) / percentile(base, 50):.0f}x a primary-key lookup; "
        f"target p95 < 50 ms: {verdict(p95 < 0.050)}"
    )
    similar.forget()
    engine.dispose()


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="dd-triage-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    say(machine_info())
    model = bench_training(args.train, args.runs)
    bench_prediction(model, args.queries)
    bench_memory(model)
    if args.backend in ("sqlite", "both"):
        banner(f"similar incidents at {args.incidents:,} incidents: SQLite")
        with sqlite_url() as url:
            bench_similar(url, args.incidents, args.queries)
    if args.backend in ("postgresql", "both"):
        reachable, why = pg_reachable()
        if not reachable:
            say(f"PostgreSQL not reachable ({why}): skipped")
            return
        banner(f"similar incidents at {args.incidents:,} incidents: PostgreSQL")
        with pg_database("dutydesk_bench_triage") as url:
            bench_similar(url, args.incidents, args.queries)


if __name__ == "__main__":
    main()
