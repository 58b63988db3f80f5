"""Similar documents by text: an in-process TF-IDF index over a kind of document (resolved
incidents today, knowledge articles later), the same on both databases.

Each process holds one index per (database, kind), built from the database on first use
and brought up to date before a query when it is older than ``similar_refresh_seconds``: the
rows whose stamp (for incidents: ``resolved_at``) is past the last one indexed are hashed and
appended; after the appended rows reach a fifth of the index (or an hour) it is rebuilt,
which refreshes the IDF weights. Words are hashed (1-2-grams, 2^20 buckets), so there is no
vocabulary to grow. A query is one sparse product against the transposed matrix (it touches
only the postings of the query's terms) and a partial sort; the candidates are then loaded
through the caller's visibility filter, and a candidate whose stamp changed since it was
indexed (reopened, or its id reused) is dropped.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import scipy.sparse as sp
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from dutydesk.access.policy import Actor, incident_visibility
from dutydesk.models import Incident
from dutydesk.triage.sparse import normalised
from dutydesk.triage.text import TOKEN_PATTERN, document

N_FEATURES = 1 << 20
CHUNK = 20_000
REBUILD_SHARE = 0.2
REBUILD_SECONDS = 3600.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Row = tuple[int, datetime, str]  # id, stamp, text
Loader = Callable[[Session, tuple[datetime, int] | None, int], Sequence[Row]]


@functools.cache
def _vectorizer() -> Any:
    # deferred: importing scikit-learn costs every process start (server, CLI) over a second
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        ngram_range=(1, 2),
        n_features=N_FEATURES,
        alternate_sign=False,
        norm=None,
        strip_accents="unicode",
        token_pattern=TOKEN_PATTERN,
        dtype=np.float32,
    )


def _tf(texts: Sequence[str]) -> sp.csr_matrix:
    if not texts:  # the hashing vectorizer cannot transform an empty list
        return sp.csr_matrix((0, N_FEATURES), dtype=np.float32)
    x = sp.csr_matrix(_vectorizer().transform(texts), dtype=np.float32)
    np.log1p(x.data, out=x.data)  # sublinear term frequency
    return x


def _stamp(at: datetime) -> float:
    return (at - EPOCH).total_seconds()


@dataclass
class DocumentIndex:
    """The vectors of one kind of document, with their ids and stamps."""

    kind: str
    loader: Loader
    idf: np.ndarray = field(default_factory=lambda: np.ones(N_FEATURES, dtype=np.float32))
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    stamps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    base_t: sp.csr_matrix = field(default_factory=lambda: sp.csr_matrix((N_FEATURES, 0)))
    delta: sp.csr_matrix = field(default_factory=lambda: sp.csr_matrix((0, N_FEATURES)))
    watermark: tuple[datetime, int] | None = None
    built_at: float = 0.0
    checked_at: float = float("-inf")
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def size(self) -> int:
        return len(self.ids)

    def refresh(self, session: Session, max_age: float) -> None:
        with self.lock:
            now = time.monotonic()
            if now - self.checked_at < max_age:
                return
            rebuild = self.watermark is None or now - self.built_at > REBUILD_SECONDS
            if not rebuild:
                rebuild = not self._append(session)
            if rebuild:
                self._build(session)
            self.checked_at = time.monotonic()

    def _load_all(self, session: Session, after: tuple[datetime, int] | None) -> list[Row]:
        rows: list[Row] = []
        while True:
            chunk = self.loader(session, after, CHUNK)
            rows.extend(chunk)
            if len(chunk) < CHUNK:
                return rows
            after = (chunk[-1][1], chunk[-1][0])

    def _build(self, session: Session) -> None:
        rows = self._load_all(session, None)
        tf = _tf([text for _, _, text in rows])
        df = np.bincount(tf.indices, minlength=N_FEATURES).astype(np.float32)
        self.idf = (np.log((1 + len(rows)) / (1 + df)) + 1).astype(np.float32)
        matrix = normalised(sp.csr_matrix(tf.multiply(self.idf), dtype=np.float32))
        self.base_t = sp.csr_matrix(matrix.T, dtype=np.float32)
        self.delta = sp.csr_matrix((0, N_FEATURES), dtype=np.float32)
        self.ids = np.array([r[0] for r in rows], dtype=np.int64)
        self.stamps = np.array([_stamp(r[1]) for r in rows], dtype=np.float64)
        self.watermark = (rows[-1][1], rows[-1][0]) if rows else (EPOCH, 0)
        self.built_at = time.monotonic()

    def _append(self, session: Session) -> bool:
        """Add the rows past the watermark; False when it is time for a full rebuild."""
        rows = self._load_all(session, self.watermark)
        if not rows:
            return True
        if self.delta.shape[0] + len(rows) > max(1000, REBUILD_SHARE * self.size):
            return False
        added = self.vectors([text for _, _, text in rows])
        self.delta = sp.csr_matrix(sp.vstack([self.delta, added]), dtype=np.float32)
        self.ids = np.concatenate([self.ids, [r[0] for r in rows]]).astype(np.int64)
        self.stamps = np.concatenate([self.stamps, [_stamp(r[1]) for r in rows]])
        self.watermark = (rows[-1][1], rows[-1][0])
        return True

    def vectors(self, texts: Sequence[str]) -> sp.csr_matrix:
        return normalised(sp.csr_matrix(_tf(texts).multiply(self.idf), dtype=np.float32))

    def search(self, text: str, k: int) -> list[tuple[int, float, float]]:
        """(id, stamp, cosine similarity) of the k best documents, best first."""
        query = self.vectors([document(text)])
        if query.nnz == 0 or self.size == 0:
            return []
        scores = np.zeros(self.size, dtype=np.float32)
        n_base = self.base_t.shape[1]
        if n_base:
            scores[:n_base] = (query @ self.base_t).toarray().ravel()
        if self.delta.shape[0]:
            scores[n_base:] = (self.delta @ query.T).toarray().ravel()
        k = min(k, self.size)
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [
            (int(self.ids[i]), float(self.stamps[i]), float(scores[i]))
            for i in best
            if scores[i] > 0
        ]


_INDEXES: dict[tuple[str, str], DocumentIndex] = {}
_REGISTRY_LOCK = threading.Lock()


def index_for(session: Session, kind: str, loader: Loader, max_age: float) -> DocumentIndex:
    """This process's index of `kind` for the session's database, brought up to date."""
    url = session.get_bind().engine.url.render_as_string(hide_password=True)
    with _REGISTRY_LOCK:
        index = _INDEXES.get((url, kind))
        if index is None:
            index = _INDEXES[(url, kind)] = DocumentIndex(kind, loader)
    index.refresh(session, max_age)
    return index


def forget() -> None:
    """Drop every index of this process (tests; after restoring a database)."""
    with _REGISTRY_LOCK:
        _INDEXES.clear()


# ----------------------------------------------------------------------------- incidents

INCIDENTS = "incident"
RESOLVED = ("resolved", "closed")


def load_resolved(session: Session, after: tuple[datetime, int] | None, limit: int) -> list[Row]:
    query = select(
        Incident.id, Incident.resolved_at, Incident.short_description, Incident.description
    ).where(Incident.state.in_(RESOLVED), Incident.resolved_at.is_not(None))
    if after is not None:
        at, ident = after
        query = query.where(
            or_(Incident.resolved_at > at, and_(Incident.resolved_at == at, Incident.id > ident))
        )
    rows = session.execute(query.order_by(Incident.resolved_at, Incident.id).limit(limit)).all()
    return [(r.id, r.resolved_at, document(r.short_description, r.description)) for r in rows]


SHOWN = (
    Incident.number,
    Incident.short_description,
    Incident.state,
    Incident.resolution_code,
    Incident.resolution_notes,
    Incident.resolved_at,
)


def similar_incidents(
    session: Session,
    actor: Actor,
    text: str,
    *,
    limit: int,
    max_age: float,
    exclude: int | None = None,
) -> list[dict[str, Any]]:
    """The resolved incidents most similar to the text that the actor may see: the SHOWN
    columns and the cosine ``score``, best first."""
    index = index_for(session, INCIDENTS, load_resolved, max_age)
    found = index.search(text, max(limit * 4, 20))
    wanted = {ident: (stamp, score) for ident, stamp, score in found if ident != exclude}
    if not wanted:
        return []
    rows = session.execute(
        select(Incident.id, *SHOWN).where(
            Incident.id.in_(sorted(wanted)),
            Incident.state.in_(RESOLVED),
            incident_visibility(actor),
        )
    ).all()
    kept = [
        {**r._asdict(), "score": round(wanted[r.id][1], 4)}
        for r in rows
        if r.resolved_at is not None and abs(_stamp(r.resolved_at) - wanted[r.id][0]) < 1e-3
    ]
    kept.sort(key=lambda s: (-s["score"], s["number"]))
    return kept[:limit]


def describe(index: DocumentIndex) -> dict[str, Any]:
    return {"kind": index.kind, "documents": index.size, "appended": index.delta.shape[0]}
