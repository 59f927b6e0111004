"""A/B experiments: stable assignment of customers to variants, impressions, and the report.

Experiments come from the `EXPERIMENTS` setting (see `app.settings.ExperimentDefinition`); at
most one is active, and it decides which engine config serves each customer.

Assignment is stable across calls, processes and restarts: u = the first 8 bytes of
SHA-256("<experiment id>:<customer id>") as a fraction of 2**64, in [0, 1); the customer gets the
first variant whose cumulative weight share exceeds u. Changing the weights moves only the
customers near the changed boundaries.

The report counts distinct (customer, product) pairs per variant: a pair is *shown* when it has an
impression, *clicked* (*converted*) when a CLICK (PURCHASE) by that customer on that product
happens within `FOLLOW_UP_WINDOW` after one of its impressions. Differences are variant minus
baseline (the first variant) with a 95% Wald interval for a difference of two proportions.
"""

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import NormalDist

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.enums import InteractionType
from app.models import Impression, Interaction, utcnow
from app.settings import ExperimentDefinition, VariantDefinition

FOLLOW_UP_WINDOW = timedelta(hours=24)
Z_95 = NormalDist().inv_cdf(0.975)  # 1.95996…
_HASH_SPACE = float(2**64)
CLICK_THROUGH_RATE = "clickThroughRate"
CONVERSION_RATE = "conversionRate"


@dataclass(frozen=True)
class Assignment:
    """The variant a customer is in; `config` is the engine config (a CONFIGS key) serving them."""

    experiment_id: str
    variant: str
    config: str


def bucket(experiment_id: str, customer_id: int) -> float:
    """The customer's stable position in [0, 1) for this experiment."""
    digest = hashlib.sha256(f"{experiment_id}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _HASH_SPACE


def assign(experiment: ExperimentDefinition, customer_id: int) -> VariantDefinition:
    """The customer's variant: their `bucket` mapped onto the cumulative weight shares."""
    point = bucket(experiment.id, customer_id) * sum(v.weight for v in experiment.variants)
    cumulative = 0.0
    for variant in experiment.variants:
        cumulative += variant.weight
        if point < cumulative:
            return variant
    return experiment.variants[-1]  # only reachable through float rounding at the top end


@dataclass(frozen=True)
class VariantReport:
    """Counts of distinct (customer, product) pairs of one variant; rates are in [0, 1]."""

    name: str
    config: str
    weight: float
    impressions: int
    clicks: int
    conversions: int

    @property
    def click_through_rate(self) -> float:
        return self.clicks / self.impressions if self.impressions else 0.0

    @property
    def conversion_rate(self) -> float:
        return self.conversions / self.impressions if self.impressions else 0.0


@dataclass(frozen=True)
class Difference:
    """`variant` minus `baseline` for `metric` (a rate), with its 95% interval [lower, upper]."""

    metric: str
    baseline: str
    variant: str
    estimate: float
    lower: float
    upper: float


@dataclass(frozen=True)
class ExperimentReport:
    id: str
    name: str
    active: bool
    variants: tuple[VariantReport, ...]
    differences: tuple[Difference, ...]


def difference_interval(
    baseline_successes: int,
    baseline_trials: int,
    variant_successes: int,
    variant_trials: int,
    z: float = Z_95,
) -> tuple[float, float, float]:
    """(estimate, lower, upper) of p_variant - p_baseline by the normal approximation (Wald):
    estimate ± z·sqrt(p_b(1-p_b)/n_b + p_v(1-p_v)/n_v). With no trials on either side nothing is
    known: the interval is the whole range [-1, 1] (the estimate uses a rate of 0 there)."""
    p_baseline = baseline_successes / baseline_trials if baseline_trials else 0.0
    p_variant = variant_successes / variant_trials if variant_trials else 0.0
    estimate = p_variant - p_baseline
    if not baseline_trials or not variant_trials:
        return estimate, -1.0, 1.0
    spread = z * math.sqrt(
        p_baseline * (1 - p_baseline) / baseline_trials
        + p_variant * (1 - p_variant) / variant_trials
    )
    return estimate, estimate - spread, estimate + spread


def differences(variants: Sequence[VariantReport]) -> tuple[Difference, ...]:
    """Each non-baseline variant against the first one, conversion rate then click-through."""
    if not variants:
        return ()
    baseline = variants[0]
    out: list[Difference] = []
    for variant in variants[1:]:
        for metric, base_hits, hits in (
            (CONVERSION_RATE, baseline.conversions, variant.conversions),
            (CLICK_THROUGH_RATE, baseline.clicks, variant.clicks),
        ):
            estimate, lower, upper = difference_interval(
                base_hits, baseline.impressions, hits, variant.impressions
            )
            out.append(Difference(metric, baseline.name, variant.name, estimate, lower, upper))
    return tuple(out)


class ExperimentService:
    """The configured experiments: who is in which variant, what they were shown, the report."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        experiments: Sequence[ExperimentDefinition],
    ) -> None:
        self._sessions = sessions
        self._experiments = tuple(experiments)
        self._active = next((e for e in self._experiments if e.active), None)

    @property
    def active(self) -> ExperimentDefinition | None:
        """The experiment deciding which model serves each customer, if any."""
        return self._active

    def assign(self, customer_id: int) -> Assignment | None:
        """The customer's variant in the active experiment; None when none is active."""
        if self._active is None:
            return None
        variant = assign(self._active, customer_id)
        return Assignment(self._active.id, variant.name, variant.config)

    async def record_impressions(
        self,
        assignment: Assignment,
        customer_id: int,
        product_ids: Sequence[int],
        served_at: datetime | None = None,
    ) -> None:
        """Store one impression per product of a served list, in one INSERT (naive UTC time)."""
        if not product_ids:
            return
        at = served_at or utcnow()
        rows = [
            {
                "experiment_id": assignment.experiment_id,
                "variant": assignment.variant,
                "user_id": customer_id,
                "product_id": product_id,
                "served_at": at,
            }
            for product_id in product_ids
        ]
        async with self._sessions() as session, session.begin():
            await session.execute(insert(Impression), rows)

    async def reports(self) -> list[ExperimentReport]:
        """Every configured experiment (active or not) in configuration order, with its counts."""
        return [await self.report(experiment) for experiment in self._experiments]

    async def report(self, experiment: ExperimentDefinition) -> ExperimentReport:
        shown, clicked, converted = await self._pair_counts(experiment.id)
        variants = tuple(
            VariantReport(
                name=variant.name,
                config=variant.config,
                weight=variant.weight,
                impressions=shown.get(variant.name, 0),
                clicks=clicked.get(variant.name, 0),
                conversions=converted.get(variant.name, 0),
            )
            for variant in experiment.variants
        )
        return ExperimentReport(
            id=experiment.id,
            name=experiment.name,
            active=experiment.active,
            variants=variants,
            differences=differences(variants),
        )

    async def _pair_counts(
        self, experiment_id: str
    ) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        """Per variant name: distinct pairs shown, clicked and converted.

        For each CLICK/PURCHASE event on a shown pair the database finds the pair's latest
        impression at or before the event (portable SQL); whether that impression is within
        `FOLLOW_UP_WINDOW` is decided here, so no dialect's date arithmetic is needed. The rows
        read are bounded by the events on shown pairs, not by impressions × events.
        """
        pairs = (
            select(Impression.variant, Impression.user_id, Impression.product_id)
            .where(Impression.experiment_id == experiment_id)
            .distinct()
            .subquery()
        )
        shown_statement = select(pairs.c.variant, func.count()).group_by(pairs.c.variant)
        follow_ups = (
            select(
                Impression.variant,
                Impression.user_id,
                Impression.product_id,
                Interaction.type,
                Interaction.occurred_at,
                func.max(Impression.served_at),
            )
            .join(
                Interaction,
                (Interaction.user_id == Impression.user_id)
                & (Interaction.product_id == Impression.product_id),
            )
            .where(
                Impression.experiment_id == experiment_id,
                Interaction.type.in_([InteractionType.CLICK.value, InteractionType.PURCHASE.value]),
                Impression.served_at <= Interaction.occurred_at,
            )
            .group_by(
                Impression.variant,
                Impression.user_id,
                Impression.product_id,
                Interaction.id,
                Interaction.type,
                Interaction.occurred_at,
            )
        )
        clicked: dict[str, set[tuple[int, int]]] = {}
        converted: dict[str, set[tuple[int, int]]] = {}
        async with self._sessions() as session:
            shown = {variant: count for variant, count in await session.execute(shown_statement)}
            for (
                variant,
                user_id,
                product_id,
                kind,
                occurred_at,
                last_served,
            ) in await session.execute(follow_ups):
                if occurred_at - last_served > FOLLOW_UP_WINDOW:
                    continue
                target = clicked if kind == InteractionType.CLICK.value else converted
                target.setdefault(variant, set()).add((user_id, product_id))
        return (
            shown,
            {variant: len(found) for variant, found in clicked.items()},
            {variant: len(found) for variant, found in converted.items()},
        )
