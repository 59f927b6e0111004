"""The recommendation model's lifecycle and serving.

The model is trained on first need, in a worker thread, from the database; it is retrained in the
background after `MODEL_TTL_SECONDS` or after `MODEL_RETRAIN_EVENTS` new events, and replaced by a
single assignment, so requests keep using the old one meanwhile. Events newer than a model (its
`watermark`) are folded into that customer's vector at request time.

With an active experiment (app/services/experiments.py) each customer is served by the model of
their variant's engine config: the service serves its own config's customers and lazily builds
one sibling service per other config, each with its own cache and model-store namespaces (see
`app.container`). Siblings receive events through this service, before any other listener.
"""

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import String, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.cache import Cache
from app.metrics import (
    MODEL_LOADS,
    MODEL_TRAINING,
    MODEL_VERSION,
    RECOMMENDATION_FOLLOW_UPS,
    RECOMMENDATIONS_SERVED,
)
from app.models import Interaction, Product
from app.services.catalog import check_page_size
from app.services.events import EventService, StoredEvent
from app.services.experiments import Assignment, ExperimentService
from app.services.model_store import ModelStore
from app.services.reasons import ServedReason, served_reason
from app.settings import Settings
from engine.config import CONFIGS, EngineConfig
from engine.data import Catalog, Events
from engine.reasons import Reason
from engine.recommender import Recommender

log = logging.getLogger(__name__)
FETCH_PARTITION = 20_000
STORE_CHECK_SECONDS = 2.0
PUBLISH_WAIT_SECONDS = 120.0
FOLLOW_UP_SECONDS = 24 * 3600


@dataclass(frozen=True)
class LoadedModel:
    """A fitted recommender plus what maps it to the database; never mutated."""

    recommender: Recommender
    version: int
    watermark: int
    trained_at: datetime
    train_seconds: float
    events: int
    product_ids: dict[str, int]

    def db_ids(self, skus: Sequence[str]) -> list[int]:
        return [self.product_ids[sku] for sku in skus if sku in self.product_ids]


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
class TrainingData:
    catalog: Catalog
    events: Events
    product_ids: dict[str, int]
    watermark: int


VariantFactory = Callable[[EngineConfig], "RecommendationService"]


class RecommendationService:
    """Serves lists from the current model, cached per customer.

    A customer's cached lists live under a generation token that each of their events replaces,
    so an event invalidates them at once on every process sharing the cache (Redis), and a list
    computed concurrently with the event is stored under the old, dead generation.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        events: EventService,
        cache: Cache,
        store: ModelStore,
        config: EngineConfig = CONFIGS["default"],
        experiments: ExperimentService | None = None,
        variant_factory: VariantFactory | None = None,
        primary: bool = True,
    ) -> None:
        """`variant_factory` builds the sibling serving another config, with its own cache and
        store and `primary=False`: a sibling gets events from its parent, not the event service,
        and leaves the model-version gauge to the primary."""
        self._sessions = sessions
        self._settings = settings
        self._events = events
        self._cache = cache
        self._store = store
        self._next_store_check = 0.0
        self._config = config
        self._model: LoadedModel | None = None
        self._lock = asyncio.Lock()
        self._retrain: asyncio.Task[None] | None = None
        self._new_events = 0
        self._experiments = experiments
        self._variant_factory = variant_factory
        self._siblings: dict[str, RecommendationService] = {}
        self._primary = primary
        if primary:
            events.subscribe(self._on_event)

    def _for_config(self, name: str) -> "RecommendationService":
        """The service serving engine config `name`: this one, or its (new) sibling."""
        if name == self._config.name:
            return self
        sibling = self._siblings.get(name)
        if sibling is None:
            if self._variant_factory is None:
                raise RuntimeError(f"no variant factory to serve engine config {name!r}")
            sibling = self._siblings[name] = self._variant_factory(CONFIGS[name])
        return sibling

    async def _on_event(self, interactions: Sequence[StoredEvent]) -> None:
        for sibling in list(self._siblings.values()):
            await sibling._on_event(interactions)
        user_ids = sorted({interaction.user_id for interaction in interactions})
        ttl = self._settings.recommendation_cache_ttl_seconds
        if ttl:
            generations = [(f"generation:{uid}", uuid.uuid4().hex) for uid in user_ids]
            await self._cache.multi_set(generations, ttl=2 * ttl)
        served_lists = await self._cache.multi_get([f"served:{uid}" for uid in user_ids])
        served = dict(zip(user_ids, served_lists, strict=True))
        for interaction in interactions:
            self._note_follow_up(interaction, served[interaction.user_id])
        self._new_events += len(interactions)
        if self._new_events >= self._settings.model_retrain_events:
            self._schedule("events")

    @property
    def model_if_loaded(self) -> LoadedModel | None:
        return self._model

    async def model(self) -> LoadedModel:
        """The current model: the first call trains (or loads a published one); later calls
        schedule a background refresh when the model is stale or a newer one is published."""
        model = self._model
        if model is None:
            async with self._lock:
                if self._model is None:
                    await self._refresh("first")
            assert self._model is not None
            return self._model
        age = (datetime.now(UTC) - model.trained_at).total_seconds()
        if age >= self._settings.model_ttl_seconds:
            self._schedule("ttl")
        elif self._store.shared and time.monotonic() >= self._next_store_check:
            self._next_store_check = time.monotonic() + STORE_CHECK_SECONDS
            self._schedule("store")
        return model

    def _schedule(self, reason: str) -> None:
        if self._retrain is None or self._retrain.done():
            self._retrain = asyncio.create_task(self._refresh_in_background(reason))

    async def _refresh_in_background(self, reason: str) -> None:
        try:
            async with self._lock:
                await self._refresh(reason)
        except Exception:
            log.exception("model refresh failed; the previous model keeps serving")

    async def close(self) -> None:
        for sibling in self._siblings.values():
            await sibling.close()
        if self._retrain is not None:
            self._retrain.cancel()
        await self._cache.close()
        await self._store.close()

    async def warm_up(self) -> None:
        """Train (or load) at start-up so the first request need not wait, then the models of
        the active experiment's other variants; failures are logged."""
        try:
            await self.model()
        except Exception:
            log.exception("warm-up training failed; the first request will try again")
        active = self._experiments.active if self._experiments else None
        for name in dict.fromkeys(variant.config for variant in active.variants) if active else ():
            if name != self._config.name:
                await self._for_config(name).warm_up()

    async def retrain(self) -> LoadedModel:
        """Train now and wait for it (admin action, tests)."""
        async with self._lock:
            await self._train()
        assert self._model is not None
        return self._model

    async def _refresh(self, reason: str) -> None:
        """Adopt a newer published model if there is one; train when `reason` still asks for
        it and no other process is training. Called with `self._lock` held."""
        if await self._adopt_published() and reason in ("first", "store", "ttl"):
            if reason != "ttl" or not self._stale():
                return
        if reason == "store":
            return
        async with self._store.training_lock() as may_train:
            if may_train:
                await self._train()
                return
        if self._model is None:
            deadline = time.monotonic() + PUBLISH_WAIT_SECONDS
            while time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                if await self._adopt_published():
                    return
            await self._train()

    def _stale(self) -> bool:
        model = self._model
        return model is None or (
            (datetime.now(UTC) - model.trained_at).total_seconds()
            >= self._settings.model_ttl_seconds
        )

    async def _adopt_published(self) -> bool:
        """Switch to the published model when it is newer than ours; True when ours is current."""
        published = await self._store.latest_version()
        if published is None:
            return False
        current = self._model.version if self._model else 0
        if published <= current:
            return True
        loaded = await self._store.load()
        if loaded is None:
            return False
        _, model = loaded
        self._model = model
        if self._primary:
            MODEL_VERSION.set(model.version)
        MODEL_LOADS.labels(origin="shared").inc()
        log.info("model loaded from the shared store", extra={"version": model.version})
        return True

    async def _train(self) -> None:
        started = time.perf_counter()
        pending_before = self._new_events
        data = await self._load()
        recommender = await asyncio.to_thread(
            Recommender(self._config).fit, data.catalog, data.events
        )
        previous = self._model
        version = await self._store.next_version() or ((previous.version + 1) if previous else 1)
        model = LoadedModel(
            recommender=recommender,
            version=version,
            watermark=data.watermark,
            trained_at=datetime.now(UTC),
            train_seconds=time.perf_counter() - started,
            events=len(data.events),
            product_ids=data.product_ids,
        )
        self._model = model
        self._new_events = max(0, self._new_events - pending_before)
        MODEL_TRAINING.observe(model.train_seconds)
        if self._primary:
            MODEL_VERSION.set(model.version)
        MODEL_LOADS.labels(origin="trained").inc()
        log.info(
            "model trained",
            extra={
                "version": version,
                "seconds": round(model.train_seconds, 3),
                "events": model.events,
            },
        )
        await self._store.publish(version, model)

    async def _load(self) -> TrainingData:
        """Live products and every event, read in partitions so the loop stays responsive."""
        async with self._sessions() as session:
            products = (
                await session.execute(
                    select(
                        Product.id,
                        Product.sku,
                        Product.name,
                        Product.description,
                        Product.category,
                        Product.tags,
                        Product.price,
                    )
                    .where(Product.deleted_at.is_(None))
                    .order_by(Product.id)
                )
            ).all()
            sku_of = {row.id: row.sku for row in products}
            users: list[str] = []
            skus: list[str] = []
            types: list[str] = []
            quantities: list[int] = []
            times: list[datetime | str] = []
            watermark = 0
            stream = await session.stream(
                select(
                    Interaction.id,
                    Interaction.user_id,
                    Interaction.product_id,
                    Interaction.type,
                    Interaction.quantity,
                    type_coerce(Interaction.occurred_at, String),
                ).order_by(Interaction.id)
            )
            async for partition in stream.partitions(FETCH_PARTITION):
                for event_id, user_id, product_id, kind, quantity, occurred_at in partition:
                    watermark = event_id
                    sku = sku_of.get(product_id)
                    if sku is None:
                        continue
                    users.append(str(user_id))
                    skus.append(sku)
                    types.append(kind)
                    quantities.append(quantity)
                    times.append(occurred_at)
                await asyncio.sleep(0)
        catalog = Catalog(
            product_ids=np.array([row.sku for row in products], dtype=str),
            names=np.array([row.name for row in products], dtype=str),
            descriptions=np.array([row.description or "" for row in products], dtype=str),
            categories=np.array([row.category or "" for row in products], dtype=str),
            tags=np.array([";".join(row.tags or []) for row in products], dtype=str),
            prices=np.array([float(row.price) for row in products], dtype=np.float64),
        )
        events = Events(
            user_ids=np.array(users, dtype=str),
            product_ids=np.array(skus, dtype=str),
            types=np.array(types, dtype=str),
            quantities=np.array(quantities, dtype=np.int64),
            timestamps=np.array(times, dtype="datetime64[s]"),
        )
        return TrainingData(catalog, events, {row.sku: row.id for row in products}, watermark)

    async def recommend(
        self, user_id: int, first: int, category: str | None = None
    ) -> list[ServedRecommendation]:
        """Top `first` products for a customer, with their events since training folded in.

        Under an active experiment the list comes from the model of the customer's variant and
        every item carries the assignment in `experiment`; otherwise `experiment` is None.
        """
        check_page_size(first)
        assignment = self._experiments.assign(user_id) if self._experiments else None
        if assignment is None:
            return await self._recommend(user_id, first, category)
        served = await self._for_config(assignment.config)._recommend(user_id, first, category)
        return [replace(item, experiment=assignment) for item in served]

    async def _recommend(
        self, user_id: int, first: int, category: str | None
    ) -> list[ServedRecommendation]:
        """This service's own model's list (cached per customer generation and model version)."""
        check_page_size(first)
        model = await self.model()
        ttl = self._settings.recommendation_cache_ttl_seconds
        if not ttl:
            served = await self._compute(model, user_id, first, category)
        else:
            generation = await self._cache.get(f"generation:{user_id}") or "0"
            key = f"list:{user_id}:{generation}:{model.version}:{first}:{category or ''}"
            served = await self._cache.get(key)
            if served is None:
                served = await self._compute(model, user_id, first, category)
                await self._cache.set(key, served, ttl=ttl)
        RECOMMENDATIONS_SERVED.inc(len(served))
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
                    reasons=tuple(_served_reason(model, reason) for reason in item.reasons),
                )
            )
        await self._remember_served(user_id, served)
        return served

    async def similar(self, product_id: int, sku: str, first: int) -> list[int]:
        check_page_size(first)
        model = await self.model()
        pairs = await asyncio.to_thread(model.recommender.similar, sku, first)
        return [pid for pid in model.db_ids([s for s, _ in pairs]) if pid != product_id]

    async def trending(self, first: int, category: str | None = None) -> list[int]:
        check_page_size(first)
        model = await self.model()
        pairs = await asyncio.to_thread(model.recommender.trending, first, category)
        return model.db_ids([sku for sku, _ in pairs])


def _served_reason(model: LoadedModel, reason: Reason) -> ServedReason:
    return served_reason(
        reason, model.recommender.names(reason.product_ids), model.product_ids.get
    )
