"""Serving recommendations from the published models; this process never trains.

Each customer is served by the model of their engine config (their experiment variant's, else
`default`), which `ModelRegistry` keeps current. Events newer than a model (its `watermark`) are
folded into the customer's vector at request time. Lists are cached per customer under a
generation token that each of their events replaces, so an event invalidates them at once on
every process sharing the cache (Redis); so an add-to-cart takes the product out of the
customer's next list at once (the engine's open-cart rule sees the folded-in event). Until a
trainer has published a first model, lists are the live products with the most distinct
customers, read from the database.
"""

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sqlalchemy import func, select

from app.cache import Cache
from app.database import SessionFactory
from app.metrics import RECOMMENDATION_FOLLOW_UPS, RECOMMENDATIONS_SERVED
from app.models import Interaction, Product
from app.services.catalog import CatalogService, check_page_size
from app.services.events import EventService, StoredEvent
from app.services.experiments import Assignment, ExperimentService
from app.services.model_registry import LoadedModel, ModelRegistry
from app.services.reasons import ServedReason, served_reason
from app.settings import Settings
from engine.data import Events
from engine.recommender import Recommendation as EngineRecommendation

log = logging.getLogger(__name__)
FOLLOW_UP_SECONDS = 24 * 3600
POPULAR_TTL_SECONDS = 30.0
DEFAULT_CONFIG = "default"


@dataclass(frozen=True)
class ServedRecommendation:
    """One item of a served list; `product_id` is the database id, scores are in [0, 1]."""

    rank: int
    product_id: int
    sku: str
    score: float
    collaborative_score: float
    content_score: float
    reasons: tuple[ServedReason, ...]
    experiment: Assignment | None = None  # set per request, never cached


@dataclass(frozen=True)
class LiveRecommendation:
    """A served item whose product is live, with that product's row; ranks run 1..n."""

    served: ServedRecommendation
    product: Product


def served_items(
    model: LoadedModel, items: Sequence[EngineRecommendation]
) -> list[ServedRecommendation]:
    """The engine's list as database rows, ranked 1..n; products unknown to the database are
    skipped. The one place that reads the engine's Recommendation and Reason shapes."""
    served: list[ServedRecommendation] = []
    for item in items:
        product_id = model.product_ids.get(item.product_id)
        if product_id is None:
            continue
        served.append(
            ServedRecommendation(
                rank=len(served) + 1,
                product_id=product_id,
                sku=item.product_id,
                score=float(item.score),
                collaborative_score=float(item.collaborative_score),
                content_score=float(item.content_score),
                reasons=tuple(
                    served_reason(
                        reason, model.recommender.names(reason.product_ids), model.product_ids.get
                    )
                    for reason in item.reasons
                ),
            )
        )
    return served


class RecommendationService:
    """Lists from the current model of each customer's config, cached per customer."""

    def __init__(
        self,
        sessions: SessionFactory,  # reads only: `Database.reader`
        settings: Settings,
        events: EventService,
        catalog: CatalogService,
        cache: Cache,
        registry: ModelRegistry,
        experiments: ExperimentService | None = None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._events = events
        self._catalog = catalog
        self._cache = cache
        self._registry = registry
        self._experiments = experiments
        self._popular: dict[
            tuple[int, str | None, bool], tuple[float, list[tuple[int, str, int]]]
        ] = {}
        events.subscribe(self._on_event)

    @property
    def registry(self) -> ModelRegistry:
        return self._registry

    def model(self, config: str = DEFAULT_CONFIG) -> LoadedModel | None:
        """The model serving `config` now; None until a trainer has published one."""
        return self._registry.current(config)

    async def close(self) -> None:
        await self._registry.close()
        await self._cache.close()

    async def generation(self, user_id: int) -> str:
        """The customer's generation token: replaced by each of their events (on every process
        sharing the cache), so anything keyed by it is invalidated at once."""
        return str(await self._cache.get(f"generation:{user_id}") or "0")

    async def _on_event(self, interactions: Sequence[StoredEvent]) -> None:
        user_ids = sorted({interaction.user_id for interaction in interactions})
        ttl = self._settings.recommendation_cache_ttl_seconds
        if ttl:
            generations = [(f"generation:{uid}", uuid.uuid4().hex) for uid in user_ids]
            await self._cache.multi_set(generations, ttl=2 * ttl)
        served_lists = await self._cache.multi_get([f"served:{uid}" for uid in user_ids])
        served = dict(zip(user_ids, served_lists, strict=True))
        for interaction in interactions:
            self._note_follow_up(interaction, served[interaction.user_id])

    async def live_list(
        self,
        user_id: int,
        first: int,
        category: str | None = None,
        record_impressions: bool = False,
    ) -> list[LiveRecommendation]:
        """The customer's top `first` whose products are still live, ranked 1..n again (a product
        archived after training, or after the list was cached, never reaches a customer), with
        their product rows. `record_impressions`: count the list as shown (experiments only),
        concurrently with the product lookup."""
        served = await self.recommend(user_id, first, category)
        work: list[Awaitable[Any]] = [
            self._catalog.products_by_ids(
                [item.product_id for item in served], include_archived=True
            )
        ]
        if record_impressions:
            work.append(self.record_impressions(user_id, served))
        # One awaitable (no experiment) is awaited directly: no task to schedule.
        rows, *_ = await asyncio.gather(*work) if len(work) > 1 else [await work[0]]
        live = [
            item for item in served if (row := rows.get(item.product_id)) and not row.deleted_at
        ]
        return [
            LiveRecommendation(replace(item, rank=rank), rows[item.product_id])
            for rank, item in enumerate(live, start=1)
        ]

    async def recommend(
        self, user_id: int, first: int, category: str | None = None
    ) -> list[ServedRecommendation]:
        """Top `first` for a customer, archived products included (see `live_list`). Under an
        active experiment every item carries the customer's assignment in `experiment`."""
        check_page_size(first)
        assignment = self._experiments.assign(user_id) if self._experiments else None
        config = assignment.config if assignment else DEFAULT_CONFIG
        served = await self._cached(config, user_id, first, category)
        RECOMMENDATIONS_SERVED.inc(len(served))
        if assignment is None:
            return served
        return [replace(item, experiment=assignment) for item in served]

    async def _cached(
        self, config: str, user_id: int, first: int, category: str | None
    ) -> list[ServedRecommendation]:
        model = self._registry.current(config)
        if model is None:
            return await self._popular_list(first, category)
        ttl = self._settings.recommendation_cache_ttl_seconds
        if not ttl:
            return await self._compute(model, user_id, first, category)
        generation = await self._cache.get(f"generation:{user_id}") or "0"
        key = f"list:{config}:{user_id}:{generation}:{model.version}:{first}:{category or ''}"
        served = await self._cache.get(key)
        if served is None:
            served = await self._compute(model, user_id, first, category)
            await self._cache.set(key, served, ttl=ttl)
        return served

    async def _compute(
        self, model: LoadedModel, user_id: int, first: int, category: str | None
    ) -> list[ServedRecommendation]:
        fresh = await self._events.events_since([user_id], model.watermark)
        extra = Events.from_records(
            [
                (str(uid), sku, kind, np.datetime64(at, "s"), qty)
                for uid, sku, kind, qty, at in fresh
            ]
        )
        items = await asyncio.to_thread(
            model.recommender.recommend,
            str(user_id),
            first,
            extra if len(extra) else None,
            category,
        )
        served = served_items(model, items)
        await self._remember_served(user_id, served)
        return served

    async def record_impressions(
        self, user_id: int, served: Sequence[ServedRecommendation]
    ) -> None:
        """Record a list as shown to the customer under its experiment (one INSERT); a no-op for
        a list served outside an experiment. A failure is logged, never raised: the list was
        served whatever happens to the bookkeeping."""
        assignment = served[0].experiment if served else None
        if assignment is None or self._experiments is None:
            return
        try:
            await self._experiments.record_impressions(
                assignment, user_id, [item.product_id for item in served]
            )
        except Exception:
            log.exception(
                "impressions not recorded", extra={"experiment": assignment.experiment_id}
            )

    async def _remember_served(self, user_id: int, served: list[ServedRecommendation]) -> None:
        """Note when each product was last recommended to the customer (kept 24 hours)."""
        now = time.time()
        key = f"served:{user_id}"
        previous: dict[int, float] = await self._cache.get(key) or {}
        current = {pid: at for pid, at in previous.items() if now - at < FOLLOW_UP_SECONDS}
        current.update({item.product_id: now for item in served})
        await self._cache.set(key, current, ttl=FOLLOW_UP_SECONDS)

    def _note_follow_up(self, interaction: StoredEvent, served: dict[int, float] | None) -> None:
        at = (served or {}).get(interaction.product_id)
        if at is not None and time.time() - at < FOLLOW_UP_SECONDS:
            RECOMMENDATION_FOLLOW_UPS.labels(type=interaction.type).inc()

    async def similar(self, product_id: int, sku: str, first: int) -> list[int]:
        """Database ids of the products most similar to `sku`; until a model exists, the most
        popular other products (as for personal lists)."""
        check_page_size(first)
        model = self._registry.current(DEFAULT_CONFIG)
        if model is None:
            rows = await self._popular_rows(first + 1, None)
            return [pid for pid, _, _ in rows if pid != product_id][:first]
        pairs = await asyncio.to_thread(model.recommender.similar, sku, first)
        return [pid for pid in model.db_ids([s for s, _ in pairs]) if pid != product_id]

    async def trending(self, first: int, category: str | None = None) -> list[int]:
        """Database ids of the trending products: from the model (distinct customers per day,
        a long-term prior plus today's, at least `trending_min_customers` of them; see
        engine/models/trend.py), or until a model exists from the database (products with at
        least that many distinct customers, most first)."""
        check_page_size(first)
        model = self._registry.current(DEFAULT_CONFIG)
        if model is None:
            rows = await self._popular_rows(first, category, trending_only=True)
            return [product_id for product_id, _, _ in rows]
        pairs = await asyncio.to_thread(model.recommender.trending, first, category)
        return model.db_ids([sku for sku, _ in pairs])

    async def _popular_list(self, first: int, category: str | None) -> list[ServedRecommendation]:
        rows = await self._popular_rows(first, category)
        top = rows[0][2] if rows else 1
        trending = ServedReason("TRENDING", 1.0, "Popular in the shop right now", None, ())
        return [
            ServedRecommendation(rank, product_id, sku, count / top, 0.0, 0.0, (trending,))
            for rank, (product_id, sku, count) in enumerate(rows, start=1)
        ]

    async def _popular_rows(
        self, first: int, category: str | None, trending_only: bool = False
    ) -> list[tuple[int, str, int]]:
        """(id, sku, distinct customers) of the live products with the most distinct customers
        (then events), kept 30 s. `trending_only`: only products with at least
        `trending_min_customers` of them, as the models' trending list."""
        key = (first, category, trending_only)
        memo = self._popular.get(key)
        if memo is not None and memo[0] > time.monotonic():
            return memo[1]
        customers = func.count(func.distinct(Interaction.user_id)).label("customers")
        statement = (
            select(Product.id, Product.sku, customers)
            .join(Interaction, Interaction.product_id == Product.id)
            .where(Product.deleted_at.is_(None))
            .group_by(Product.id, Product.sku)
            .order_by(customers.desc(), func.count(Interaction.id).desc(), Product.id)
            .limit(first)
        )
        if trending_only:
            statement = statement.having(customers >= self._settings.trending_min_customers)
        if category is not None:
            statement = statement.where(Product.category == category)
        async with self._sessions() as session:
            rows = [(int(a), str(b), int(c)) for a, b, c in await session.execute(statement)]
        self._popular[key] = (time.monotonic() + POPULAR_TTL_SECONDS, rows)
        return rows
