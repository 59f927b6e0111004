"""Experiment types: a customer's variant, the per-variant report and the offline evaluation."""

from dataclasses import asdict
from datetime import datetime

import strawberry

from app.services.evaluations import EvaluationReport, ModelMetrics
from app.services.experiments import Assignment, Difference, ExperimentReport, VariantReport


@strawberry.type(description="The A/B experiment variant that served a recommendation.")
class ExperimentAssignment:
    id: str = strawberry.field(description="The experiment's id (from the EXPERIMENTS setting).")
    variant: str = strawberry.field(
        description="The customer's variant; stable for a customer for as long as the "
        "experiment's variants and weights stay the same."
    )

    @classmethod
    def from_assignment(cls, assignment: Assignment) -> "ExperimentAssignment":
        return cls(id=assignment.experiment_id, variant=assignment.variant)


@strawberry.type(
    description="One variant of an experiment and what its customers did. Counts are distinct "
    "(customer, product) pairs: a pair is clicked (converted) when the customer clicked "
    "(bought) the product within 24 hours after it was shown to them."
)
class ExperimentVariant:
    name: str = strawberry.field(description="The variant's name; unique in its experiment.")
    config: str = strawberry.field(
        description='The engine configuration serving this variant, e.g. "default" or "brief".'
    )
    weight: float = strawberry.field(
        description="Relative share of customers assigned to it (weights need not sum to 1)."
    )
    impressions: int = strawberry.field(
        description="Distinct (customer, product) pairs shown in `recommendations` lists."
    )
    clicks: int = strawberry.field(description="Shown pairs clicked within 24 hours.")
    conversions: int = strawberry.field(description="Shown pairs purchased within 24 hours.")
    click_through_rate: float = strawberry.field(
        description="clicks / impressions, 0 to 1 (0 without impressions)."
    )
    conversion_rate: float = strawberry.field(
        description="conversions / impressions, 0 to 1 (0 without impressions)."
    )

    @classmethod
    def from_report(cls, report: VariantReport) -> "ExperimentVariant":
        return cls(
            **asdict(report),
            click_through_rate=report.click_through_rate,
            conversion_rate=report.conversion_rate,
        )


@strawberry.type(
    description="A variant's rate minus the baseline's (the experiment's first variant), with "
    "a 95% confidence interval (normal approximation for a difference of two proportions). An "
    "interval that excludes 0 suggests a real difference; without impressions on either side "
    "the interval is [-1, 1]."
)
class ExperimentDifference:
    metric: str = strawberry.field(description='"conversionRate" or "clickThroughRate".')
    baseline: str = strawberry.field(description="The baseline variant's name.")
    variant: str = strawberry.field(description="The compared variant's name.")
    estimate: float = strawberry.field(description="variant rate − baseline rate, −1 to 1.")
    lower: float = strawberry.field(description="Lower end of the 95% interval.")
    upper: float = strawberry.field(description="Upper end of the 95% interval.")

    @classmethod
    def from_difference(cls, difference: Difference) -> "ExperimentDifference":
        return cls(**asdict(difference))


@strawberry.type(
    description="An A/B experiment from the EXPERIMENTS setting, with its results so far."
)
class Experiment:
    id: str = strawberry.field(description="Stable id; it also seeds the customer assignment.")
    name: str = strawberry.field(description="For people.")
    active: bool = strawberry.field(
        description="True for the (at most one) experiment deciding which model serves whom; "
        "inactive experiments keep their recorded results."
    )
    variants: list[ExperimentVariant] = strawberry.field(
        description="In configured order; the first is the baseline."
    )
    differences: list[ExperimentDifference] = strawberry.field(
        description="For each variant after the first: conversionRate, then clickThroughRate."
    )

    @classmethod
    def from_report(cls, report: ExperimentReport) -> "Experiment":
        return cls(
            id=report.id,
            name=report.name,
            active=report.active,
            variants=[ExperimentVariant.from_report(variant) for variant in report.variants],
            differences=[ExperimentDifference.from_difference(d) for d in report.differences],
        )


@strawberry.type(description="One engine configuration's offline metrics at the run's k.")
class OfflineModelMetrics:
    name: str = strawberry.field(description='The engine configuration, e.g. "default".')
    precision: float = strawberry.field(description="Mean precision@k, 0 to 1.")
    recall: float = strawberry.field(description="Mean recall@k, 0 to 1.")
    ndcg: float = strawberry.field(description="Mean NDCG@k, 0 to 1.")
    hit_rate: float = strawberry.field(
        description="Share of customers with at least one relevant product in their top k."
    )
    map: float = strawberry.field(description="Mean average precision@k, 0 to 1.")
    coverage: float = strawberry.field(
        description="Distinct recommended products / catalog size, 0 to 1."
    )
    ms_per_user: float = strawberry.field(description="Scoring time per customer, milliseconds.")

    @classmethod
    def from_metrics(cls, metrics: ModelMetrics) -> "OfflineModelMetrics":
        return cls(**asdict(metrics))


@strawberry.type(
    description="The latest `recommender evaluate` run: every engine configuration trained on "
    "events before `cutoff` and scored on the products customers turned to afterwards."
)
class OfflineEvaluation:
    ran_at: datetime = strawberry.field(description="When the run was stored (UTC).")
    dataset: str = strawberry.field(description="The evaluated data set's folder name.")
    cutoff: str = strawberry.field(description="YYYY-MM-DD: train before, test from then on.")
    k: int = strawberry.field(description="List length the metrics are computed at.")
    eval_users: int = strawberry.field(
        description="Customers evaluated (with history before and new products after cutoff)."
    )
    default: str = strawberry.field(description="The configuration serving in production.")
    models: list[OfflineModelMetrics] = strawberry.field(description="One per configuration.")

    @classmethod
    def from_report(cls, report: EvaluationReport) -> "OfflineEvaluation":
        return cls(
            ran_at=report.ran_at,
            dataset=report.dataset,
            cutoff=report.cutoff,
            k=report.k,
            eval_users=report.eval_users,
            default=report.default,
            models=[OfflineModelMetrics.from_metrics(metrics) for metrics in report.models],
        )
