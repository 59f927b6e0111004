"""Offline evaluation runs: `recommender evaluate` stores its result here for the admin view.

The stored result is exactly the JSON line the command prints (see `engine.evaluate.evaluate`):
{"dataset", "cutoff", "k", "eval_users", "default", "models": {name: {"precision", "recall",
"ndcg", "hit_rate", "map", "coverage", "ms_per_user", ...}}, ...}.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from app.database import Database
from app.models import Evaluation, utcnow


@dataclass(frozen=True)
class ModelMetrics:
    """One engine config's top-k metrics (means over evaluated customers, in [0, 1]) and its
    scoring time in milliseconds per customer."""

    name: str
    precision: float
    recall: float
    ndcg: float
    hit_rate: float
    map: float
    coverage: float
    ms_per_user: float


@dataclass(frozen=True)
class EvaluationReport:
    """One stored run; `ran_at` is naive UTC, `cutoff` is YYYY-MM-DD."""

    ran_at: datetime
    dataset: str
    cutoff: str
    k: int
    eval_users: int
    default: str
    models: tuple[ModelMetrics, ...]

    @classmethod
    def from_result(cls, ran_at: datetime, result: dict[str, Any]) -> "EvaluationReport":
        models = tuple(
            ModelMetrics(
                name=name,
                precision=float(metrics.get("precision", 0.0)),
                recall=float(metrics.get("recall", 0.0)),
                ndcg=float(metrics.get("ndcg", 0.0)),
                hit_rate=float(metrics.get("hit_rate", 0.0)),
                map=float(metrics.get("map", 0.0)),
                coverage=float(metrics.get("coverage", 0.0)),
                ms_per_user=float(metrics.get("ms_per_user", 0.0)),
            )
            for name, metrics in (result.get("models") or {}).items()
        )
        return cls(
            ran_at=ran_at,
            dataset=str(result.get("dataset", "")),
            cutoff=str(result.get("cutoff", "")),
            k=int(result.get("k", 0)),
            eval_users=int(result.get("eval_users", 0)),
            default=str(result.get("default", "")),
            models=models,
        )


class EvaluationService:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def store(self, result: dict[str, Any], ran_at: datetime | None = None) -> None:
        """Keep one run's result (a JSON-serialisable dict) as of `ran_at` (default: now)."""
        async with self._db.writer() as session, session.begin():
            await session.execute(
                insert(Evaluation).values(ran_at=ran_at or utcnow(), result=result)
            )

    async def latest(self) -> EvaluationReport | None:
        """The most recent run, or None when `recommender evaluate` never stored one."""
        statement = (
            select(Evaluation.ran_at, Evaluation.result)
            .order_by(Evaluation.ran_at.desc(), Evaluation.id.desc())
            .limit(1)
        )
        async with self._db.reader() as session:
            row = (await session.execute(statement)).first()
        return EvaluationReport.from_result(row.ran_at, row.result) if row else None
