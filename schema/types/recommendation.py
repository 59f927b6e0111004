"""Recommendation types: a ranked product with its scores and the reasons behind it."""

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING

import strawberry

from app.services.explanations import ExplanationRequest, ReasonFacts
from app.services.model_registry import LoadedModel
from app.services.reasons import ServedReason
from app.services.recommendations import LiveRecommendation, ServedRecommendation
from schema.context import Context
from schema.types.experiment import ExperimentAssignment
from schema.types.product import Product, products_by_ids

if TYPE_CHECKING:
    from app import models

Info = strawberry.Info[Context, None]


@strawberry.enum(description="Why a product is recommended.")
class ReasonKind(Enum):
    SIMILAR_CUSTOMERS = strawberry.enum_value(
        "SIMILAR_CUSTOMERS", description="Customers with similar histories chose it."
    )
    SIMILAR_TO_PURCHASED = strawberry.enum_value(
        "SIMILAR_TO_PURCHASED",
        description="Often bought together with products this customer bought or picked.",
    )
    CONTENT_MATCH = strawberry.enum_value(
        "CONTENT_MATCH", description="Its name, description or tags match the customer's products."
    )
    PREFERRED_CATEGORY = strawberry.enum_value(
        "PREFERRED_CATEGORY", description="It is in a category this customer prefers (boosted)."
    )
    TRENDING = strawberry.enum_value(
        "TRENDING", description="Popular with all customers lately (time-decayed)."
    )


@strawberry.enum(description="Who wrote an explanation.")
class ExplanationSource(Enum):
    LLM = strawberry.enum_value("LLM", description="The language model, from the reasons.")
    TEMPLATE = strawberry.enum_value(
        "TEMPLATE", description="A fixed sentence from the reasons (no LLM, or it failed)."
    )


@strawberry.type(description="A short explanation of a recommendation, written for the customer.")
class Explanation:
    text: str = strawberry.field(description="One or two sentences.")
    source: ExplanationSource
    model: str | None = strawberry.field(description="The LLM that wrote it; null for templates.")
    cached: bool = strawberry.field(description="True when served from the explanation cache.")


@strawberry.type(name="Reason", description="One reason behind a recommendation.")
class RecommendationReason:
    kind: ReasonKind
    weight: float = strawberry.field(
        description="Share of the recommendation's score this reason explains, 0 to 1."
    )
    detail: str = strawberry.field(
        description="For people: names the products or category behind the reason."
    )
    category: str | None = strawberry.field(description="The category behind it, if any.")
    product_ids: strawberry.Private[tuple[int, ...]]

    @classmethod
    def from_served(cls, reason: ServedReason) -> "RecommendationReason":
        return cls(
            kind=ReasonKind(reason.kind),
            weight=round(reason.weight, 4),
            detail=reason.detail,
            category=reason.category,
            product_ids=reason.product_ids,
        )

    @strawberry.field(description="The customer's products behind this reason, at most 3.")
    async def products(self, info: Info) -> list[Product]:
        return await products_by_ids(info, self.product_ids)


@strawberry.type(description="A product recommended to a customer, with why.")
class Recommendation:
    rank: int = strawberry.field(description="1 for the best.")
    score: float = strawberry.field(description="Final score, 0 to 1 (the best item is 1).")
    collaborative_score: float = strawberry.field(
        description="The collaborative-filtering part of the score, 0 to 1."
    )
    content_score: float = strawberry.field(description="The content-similarity part, 0 to 1.")
    reasons: list[RecommendationReason] = strawberry.field(description="Strongest first.")
    experiment: ExperimentAssignment | None = strawberry.field(
        description="The A/B experiment variant whose model chose this item; null when no "
        "experiment is running."
    )
    product: Product = strawberry.field(description="The recommended product.")
    served: strawberry.Private[ServedRecommendation]
    customer_id: strawberry.Private[int]

    @classmethod
    def from_served(
        cls, served: ServedRecommendation, customer_id: int, product: "models.Product"
    ) -> "Recommendation":
        """`product` is the row of `served.product_id` (archived rows too)."""
        return cls(
            customer_id=customer_id,
            product=Product.from_row(product),
            rank=served.rank,
            score=round(served.score, 6),
            collaborative_score=round(served.collaborative_score, 6),
            content_score=round(served.content_score, 6),
            reasons=[RecommendationReason.from_served(reason) for reason in served.reasons],
            experiment=(
                ExperimentAssignment.from_assignment(served.experiment)
                if served.experiment
                else None
            ),
            served=served,
        )

    @classmethod
    def from_live(cls, item: LiveRecommendation, customer_id: int) -> "Recommendation":
        return cls.from_served(item.served, customer_id, item.product)

    @strawberry.field(
        description="Why, in a sentence or two for the customer. Written by an LLM from the "
        "reasons (cached for an hour) and only when selected; falls back to a template sentence "
        "when the LLM is not configured, slow or failing, so it never fails the query."
    )
    async def explanation(self, info: Info) -> Explanation | None:
        loaders = info.context.loaders
        product = await loaders.product.load(self.served.product_id)
        assert product is not None
        reasons = []
        for reason in self.served.reasons:
            rows = await loaders.product.load_many(list(reason.product_ids))
            reasons.append(
                ReasonFacts(
                    kind=reason.kind,
                    weight=reason.weight,
                    product_names=tuple(row.name for row in rows if row is not None),
                    product_events=tuple(
                        event
                        for row, event in zip(rows, reason.product_events, strict=False)
                        if row is not None
                    ),
                    category=reason.category,
                    detail=reason.detail,
                )
            )
        recent = await loaders.recent_products.load(self.customer_id)
        result = await info.context.services.explanations.explain(
            ExplanationRequest(
                customer_key=str(self.customer_id),
                product_sku=product.sku,
                product_name=product.name,
                product_category=product.category,
                reasons=tuple(reasons),
                recent_product_names=tuple(row.name for row in recent),
                recent_categories=tuple(
                    dict.fromkeys(row.category for row in recent if row.category)
                ),
            )
        )
        return Explanation(
            text=result.text,
            source=ExplanationSource(result.source),
            model=result.model,
            cached=result.cached,
        )


@strawberry.enum(description="Which stage puts the served lists in order.")
class RankingStage(Enum):
    BLEND = strawberry.enum_value(
        "BLEND",
        description="The fitted blend of collaborative, content and trend scores orders the "
        "lists (the learned ranker is off in this config, or did not beat the blend).",
    )
    RANKER = strawberry.enum_value(
        "RANKER",
        description="A learned ranker (gradient-boosted trees) re-orders the blend's top "
        "candidates; it serves because it beat the blend on the latest weeks of training data.",
    )


@strawberry.type(description="The model that serves recommendations now.")
class ModelInfo:
    version: int = strawberry.field(
        description="Increases by one with every model the trainer publishes; this API "
        "process switches to a newer version within seconds, without a restart."
    )
    trained_at: datetime = strawberry.field(description="When training finished (UTC).")
    train_seconds: float = strawberry.field(description="Wall time of fitting, in the trainer.")
    events: int = strawberry.field(description="Events the model was trained on.")
    users: int = strawberry.field(description="Customers with events in the model.")
    products: int = strawberry.field(description="Products in the model's catalog.")
    algorithm: str = strawberry.field(
        description="The collaborative model in use and its main parameter, e.g. `EASE (λ=278)`, "
        "`ALS (128 factors)` (catalogs above 6,000 active products) or `user-kNN`, blended "
        "with content and trend."
    )
    stage: RankingStage = strawberry.field(
        description="Which stage orders the lists: the blend alone, or the learned ranker "
        "over the blend's candidates."
    )
    ranker_seconds: float = strawberry.field(
        description="Wall time of training the learned ranker, in seconds (part of "
        "`trainSeconds`; 0 when the config has no ranker)."
    )
    ranker_bytes: int = strawberry.field(
        description="Size of the learned ranker's trees in the published model, in bytes "
        "(0 when the blend serves)."
    )

    @classmethod
    def from_model(cls, model: LoadedModel) -> "ModelInfo":
        info = model.recommender.info
        return cls(
            version=model.version,
            trained_at=model.trained_at.replace(tzinfo=None),
            train_seconds=round(model.train_seconds, 3),
            events=model.events,
            users=info.users,
            products=info.products,
            algorithm=info.algorithm,
            stage=RankingStage.RANKER if info.stage == "ranker" else RankingStage.BLEND,
            ranker_seconds=round(info.ranker_seconds, 3),
            ranker_bytes=info.ranker_bytes,
        )
