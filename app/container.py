"""The process-wide set of services, built once per ASGI app from the settings."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.cache import build_cache
from app.database import Database
from app.persisted_queries import PersistedQueries
from app.response_cache import ResponseCache
from app.services.artifact_store import ArtifactStore, ModelAnnouncements
from app.services.catalog import CatalogService
from app.services.evaluations import EvaluationService
from app.services.events import EventService, StoredEvent
from app.services.experiments import ExperimentService
from app.services.explanations import ExplanationService
from app.services.live import LiveUpdates
from app.services.model_registry import ModelRegistry
from app.services.recommendations import RecommendationService
from app.services.users import UserService
from app.settings import Settings


@dataclass
class Services:
    settings: Settings
    database: Database  # sessions: writer() on the primary, reader() on a replica when fit
    engine: AsyncEngine  # the primary's
    sessions: async_sessionmaker[AsyncSession]  # the primary's (database.writer)
    catalog: CatalogService
    users: UserService
    events: EventService
    recommendations: RecommendationService
    explanations: ExplanationService
    live: LiveUpdates
    experiments: ExperimentService
    evaluations: EvaluationService
    documents: PersistedQueries
    responses: ResponseCache

    async def close(self) -> None:
        await self.responses.close()
        await self.documents.close()
        await self.events.close()
        await self.live.close()
        await self.recommendations.close()
        await self.explanations.close()
        await self.database.close()


def build_services(settings: Settings) -> Services:
    database = Database(settings)
    sessions = database.writer
    events = EventService(database, settings)

    async def note_writers(interactions: Sequence[StoredEvent]) -> None:
        await database.wrote(interaction.user_id for interaction in interactions)

    # First of the listeners: a customer's reads stay on the primary (read-your-writes) before
    # anything their event wakes (cached lists, live pushes) reads again.
    events.subscribe(note_writers)
    experiments = ExperimentService(sessions, settings.experiments)

    catalog = CatalogService(database, settings.product_row_ttl_seconds)
    registry = ModelRegistry(
        settings, ModelAnnouncements(sessions), ArtifactStore(settings, sessions)
    )
    recommendations = RecommendationService(
        database.reader,
        settings,
        events,
        catalog,
        build_cache(settings, "recommendations"),
        registry,
        experiments=experiments,
    )
    # Subscribed after the recommendation service, whose listener invalidates cached lists
    # first: a woken subscriber must not read the list cached before the event.
    # Personal responses need the generation tokens, kept only while lists are cached; and
    # under an active experiment every list must be recorded as impressions, so it executes.
    responses = ResponseCache(
        build_cache(settings, "responses"),
        recommendations,
        settings.response_cache_ttl_seconds,
        personal=bool(settings.recommendation_cache_ttl_seconds)
        and settings.active_experiment is None,
    )
    catalog.subscribe(responses.catalog_changed)
    live = LiveUpdates(settings.redis_url, f"{settings.redis_namespace}:events")
    events.subscribe(live.on_event)
    return Services(
        settings=settings,
        database=database,
        engine=database.engine,
        sessions=sessions,
        catalog=catalog,
        users=UserService(database, settings, events),
        events=events,
        recommendations=recommendations,
        explanations=ExplanationService(settings, build_cache(settings, "explanations")),
        live=live,
        experiments=experiments,
        evaluations=EvaluationService(database),
        documents=PersistedQueries.from_settings(settings, build_cache(settings, "documents")),
        responses=responses,
    )
