"""A/B experiments: assignment, serving by variant, impressions, the report and its interval
maths, admin-only access, and the stored offline evaluation (SQLite and PostgreSQL)."""

import argparse
import asyncio
import json
import math
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import insert, select

from app.cli import _evaluate
from app.db import create_engine, create_session_factory
from app.models import Impression, Interaction, Product, User, utcnow
from app.services.experiments import (
    ExperimentService,
    VariantReport,
    assign,
    difference_interval,
    differences,
)
from app.services.imports import import_dataset
from app.settings import PROJECT_ROOT, ExperimentDefinition, Settings
from schema.types.common import decode_id
from tests.conftest import SAMPLE_DIR, GraphQLClient, fresh_database, running_client

BLEND = {
    "id": "blend-2026",
    "name": "Brief blend vs default",
    "active": True,
    "variants": [
        {"name": "default", "weight": 0.5, "config": "default"},
        {"name": "brief", "weight": 0.5, "config": "brief"},
    ],
}
LIST = """query($u: ID, $n: Int!) { recommendations(userId: $u, first: $n) {
  product { id } experiment { id variant } } }"""
REPORT = """{ experiments { id name active
  variants { name config weight impressions clicks conversions clickThroughRate conversionRate }
  differences { metric baseline variant estimate lower upper } } }"""
OFFLINE = """{ offlineEvaluation { ranAt dataset cutoff k evalUsers default
  models { name precision recall ndcg hitRate map coverage msPerUser } } }"""


def experiment(**changes: Any) -> ExperimentDefinition:
    return ExperimentDefinition.model_validate({**BLEND, **changes})


def settings(url: str, **changes: Any) -> Settings:
    return Settings(database_url=url, rate_limit_points_per_minute=0, **changes)


# --- configuration and assignment --------------------------------------------------------------


def test_experiments_are_validated_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPERIMENTS", json.dumps([BLEND]))
    assert Settings().active_experiment == experiment()
    monkeypatch.delenv("EXPERIMENTS")
    assert Settings().experiments == [] and Settings().active_experiment is None
    variants = BLEND["variants"]
    bad: list[list[dict[str, Any]]] = [
        [{**BLEND, "variants": [{**variants[0], "config": "unknown"}, variants[1]]}],
        [{**BLEND, "variants": [{**variants[0], "weight": 0}, variants[1]]}],
        [{**BLEND, "variants": [variants[0]]}],
        [{**BLEND, "variants": [variants[0], variants[0]]}],
        [BLEND, {**BLEND, "active": False}],  # duplicate id
        [BLEND, {**BLEND, "id": "second"}],  # two active
    ]
    for experiments in bad:
        with pytest.raises(ValidationError):
            Settings(experiments=experiments)
    monkeypatch.setenv("EXPERIMENTS", '[{"id": "x"}]')
    with pytest.raises(ValidationError):
        Settings()


def test_assignment_is_stable_and_follows_the_weights() -> None:
    even = experiment()
    first = [assign(even, customer).name for customer in range(1, 2001)]
    assert first == [assign(even, customer).name for customer in range(1, 2001)]
    shares = Counter(first)
    assert abs(shares["brief"] / 2000 - 0.5) < 0.03, shares
    skewed = experiment(
        variants=[
            {"name": "default", "weight": 1, "config": "default"},
            {"name": "brief", "weight": 3, "config": "brief"},
            {"name": "popular", "weight": 1, "config": "popularity"},
        ]
    )
    shares = Counter(assign(skewed, customer).name for customer in range(1, 2001))
    for name, share in (("default", 0.2), ("brief", 0.6), ("popular", 0.2)):
        assert abs(shares[name] / 2000 - share) < 0.03, shares
    # Another experiment id reshuffles the customers.
    other = [assign(experiment(id="other"), customer).name for customer in range(1, 2001)]
    assert other != first


def test_assignment_is_the_same_in_another_process() -> None:
    script = (
        "import json, sys; from app.services.experiments import assign; "
        "from app.settings import ExperimentDefinition; "
        "e = ExperimentDefinition.model_validate(json.loads(sys.argv[1])); "
        "print(json.dumps([assign(e, c).name for c in range(1, 201)]))"
    )
    output = subprocess.run(
        [sys.executable, "-c", script, json.dumps(BLEND)],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
    ).stdout
    assert json.loads(output) == [assign(experiment(), c).name for c in range(1, 201)]


# --- the interval maths ------------------------------------------------------------------------


def test_the_wald_interval_on_a_hand_computed_case() -> None:
    # p_b = 10/100, p_v = 20/100: se = sqrt(.1*.9/100 + .2*.8/100) = sqrt(.0025) = .05
    estimate, lower, upper = difference_interval(10, 100, 20, 100)
    assert estimate == pytest.approx(0.1)
    assert lower == pytest.approx(0.1 - 1.959964 * 0.05, abs=1e-6)
    assert upper == pytest.approx(0.1 + 1.959964 * 0.05, abs=1e-6)
    assert lower == pytest.approx(0.0020018, abs=1e-6)
    # Unequal sizes: p_b = 30/200 = .15, p_v = 10/50 = .2
    se = math.sqrt(0.15 * 0.85 / 200 + 0.2 * 0.8 / 50)
    estimate, lower, upper = difference_interval(30, 200, 10, 50)
    assert (estimate, lower, upper) == pytest.approx(
        (0.05, 0.05 - 1.959964 * se, 0.05 + 1.959964 * se)
    )
    assert difference_interval(0, 0, 3, 10) == pytest.approx((0.3, -1.0, 1.0))
    assert difference_interval(0, 10, 0, 10) == (0.0, 0.0, 0.0)
    rows = differences(
        [
            VariantReport("a", "default", 1, impressions=100, clicks=10, conversions=5),
            VariantReport("b", "brief", 1, impressions=100, clicks=20, conversions=5),
        ]
    )
    assert [(d.metric, d.baseline, d.variant) for d in rows] == [
        ("conversionRate", "a", "b"),
        ("clickThroughRate", "a", "b"),
    ]
    assert rows[0].estimate == 0.0 and rows[1].estimate == pytest.approx(0.1)


# --- counts from known events ------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database(request.param, tmp_path) as url:
        yield url


async def test_report_counts_pairs_with_follow_ups_within_24_hours(empty_url: str) -> None:
    engine = create_engine(Settings(database_url=empty_url))
    sessions = create_session_factory(engine)
    t = datetime(2026, 3, 1, 12, 0, 0)
    h = timedelta(hours=1)
    async with sessions() as session, session.begin():
        await session.execute(
            insert(User), [{"id": i, "username": f"u{i}", "role": "customer"} for i in (1, 2, 3)]
        )
        await session.execute(
            insert(Product),
            [
                {
                    "id": i,
                    "sku": f"p{i}",
                    "name": f"P{i}",
                    "description": "",
                    "price": Decimal(1),
                    "tags": [],
                    "search_text": "",
                }
                for i in (1, 2)
            ],
        )
        shown = [
            ("blend-2026", "default", 1, 1, t),
            ("blend-2026", "default", 1, 1, t + h),  # the same pair again: counted once
            ("blend-2026", "default", 1, 2, t),
            ("blend-2026", "default", 2, 1, t),
            ("blend-2026", "brief", 3, 1, t),
            ("blend-2026", "brief", 3, 1, t + 48 * h),
            ("blend-2026", "brief", 3, 2, t),
            ("older", "x", 2, 2, t),  # another experiment
        ]
        await session.execute(
            insert(Impression),
            [
                {"experiment_id": e, "variant": v, "user_id": u, "product_id": p, "served_at": at}
                for e, v, u, p, at in shown
            ],
        )
        events = [
            (1, 1, "click", t + 2 * h),  # counted
            (1, 1, "view", t + 2 * h),  # neither a click nor a purchase
            (1, 2, "click", t + 25 * h),  # more than 24 h after: not counted
            (1, 2, "purchase", t + 23 * h),  # counted conversion
            (2, 1, "click", t - h),  # before the impression: not counted
            (3, 1, "click", t + 49 * h),  # within 24 h of the second impression: counted
            (3, 2, "purchase", t + 24 * h + timedelta(seconds=1)),  # just too late
            (2, 2, "click", t + h),  # user 2 never saw product 2 in this experiment
        ]
        await session.execute(
            insert(Interaction),
            [
                {"user_id": u, "product_id": p, "type": kind, "quantity": 1, "occurred_at": at}
                for u, p, kind, at in events
            ],
        )
    definition = experiment()
    report = await ExperimentService(sessions, [definition]).report(definition)
    await engine.dispose()
    default, brief = report.variants
    assert (default.impressions, default.clicks, default.conversions) == (3, 1, 1)
    assert (brief.impressions, brief.clicks, brief.conversions) == (2, 1, 0)
    assert default.click_through_rate == pytest.approx(1 / 3)
    assert brief.conversion_rate == 0.0
    ctr = next(d for d in report.differences if d.metric == "clickThroughRate")
    assert ctr.estimate == pytest.approx(0.5 - 1 / 3)
    assert (ctr.lower, ctr.upper) == pytest.approx(difference_interval(1, 3, 1, 2)[1:])


# --- serving by variant and impressions over GraphQL -------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
async def sample_copy_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database with the sample imported and no other test's events."""
    async with fresh_database(request.param, tmp_path) as url:
        engine = create_engine(Settings(database_url=url))
        await import_dataset(engine, SAMPLE_DIR)
        await engine.dispose()
        yield url


async def test_customers_are_served_by_their_variants_model_and_impressions_are_recorded(
    sample_copy_url: str,
) -> None:
    async with (
        running_client(settings(sample_copy_url, experiments=[BLEND]), trained=True) as split,
        running_client(settings(sample_copy_url)) as plain,
    ):
        admin = await split.admin_token()
        plain_admin = await plain.admin_token()
        users = await split.data("{ users(first: 60) { edges { node { id role } } } }", {}, admin)
        customers = [
            e["node"]["id"] for e in users["users"]["edges"] if e["node"]["role"] == "CUSTOMER"
        ]
        same = differ = 0
        for user in customers[:40]:
            variant = assign(experiment(), decode_id(user, "User")).name
            items = (await split.data(LIST, {"u": user, "n": 10}, admin))["recommendations"]
            baseline = (await plain.data(LIST, {"u": user, "n": 10}, plain_admin))[
                "recommendations"
            ]
            assert {item["experiment"]["variant"] for item in items} == {variant}
            assert {item["experiment"]["id"] for item in items} == {"blend-2026"}
            assert all(item["experiment"] is None for item in baseline)
            ids = [item["product"]["id"] for item in items]
            if variant == "default":
                assert ids == [item["product"]["id"] for item in baseline]
                same += 1
            else:
                differ += ids != [item["product"]["id"] for item in baseline]
        briefs = len(customers[:40]) - same
        assert same >= 5 and briefs >= 5
        assert differ >= 0.8 * briefs, (differ, briefs)

        # An admin's look records nothing; a customer's own list does (one row per item).
        report = (await split.data(REPORT, {}, admin))["experiments"]
        assert [v["impressions"] for v in report[0]["variants"]] == [0, 0]
        token, user_id = await split.register("shown")
        variant = assign(experiment(), decode_id(user_id, "User")).name
        items = (await split.data(LIST, {"n": 5}, token))["recommendations"]
        assert {item["experiment"]["variant"] for item in items} == {variant}
        await split.data(  # the "Why?" lookup records nothing
            "query($p: ID!) { recommendation(productId: $p) { rank } }",
            {"p": items[0]["product"]["id"]},
            token,
        )
        await split.data(
            "mutation($id: ID!) { recordInteraction(productId: $id, type: CLICK) "
            "{ errors { code } } }",
            {"id": items[1]["product"]["id"]},
            token,
        )
        sessions = split.app.state.services.sessions
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(Impression.experiment_id, Impression.variant, Impression.product_id)
                    .where(Impression.user_id == decode_id(user_id, "User"))
                    .order_by(Impression.id)
                )
            ).all()
        assert [tuple(row) for row in rows] == [
            ("blend-2026", variant, decode_id(item["product"]["id"], "Product")) for item in items
        ]
        report = (await split.data(REPORT, {}, admin))["experiments"]
        assert report[0]["id"] == "blend-2026" and report[0]["active"] is True
        counts = {
            v["name"]: (v["impressions"], v["clicks"], v["conversions"])
            for v in report[0]["variants"]
        }
        assert counts[variant] == (5, 1, 0)
        shown = next(v for v in report[0]["variants"] if v["name"] == variant)
        assert shown["clickThroughRate"] == pytest.approx(0.2)
        assert [d["metric"] for d in report[0]["differences"]] == [
            "conversionRate",
            "clickThroughRate",
        ]


# --- access and the offline evaluation ---------------------------------------------------------


async def test_experiments_and_offline_evaluation_are_for_admins(client: GraphQLClient) -> None:
    token, _ = await client.register("nosy")
    for field, query in (("experiments", REPORT), ("offlineEvaluation", OFFLINE)):
        anonymous = await client.query(query)
        assert (anonymous["data"] or {}).get(field) is None  # null data, or a null field
        assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        refused = await client.query(query, token=token)
        assert (refused["data"] or {}).get(field) is None
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    admin = await client.admin_token()
    assert (await client.data(REPORT, {}, admin))["experiments"] == []
    assert "offlineEvaluation" in await client.data(OFFLINE, {}, admin)


async def test_offline_evaluation_is_the_latest_evaluate_run(
    empty_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_client(settings(empty_url)) as graphql:
        admin = await graphql.admin_token()
        assert (await graphql.data(OFFLINE, {}, admin))["offlineEvaluation"] is None
        for k in (5, 10):
            args = argparse.Namespace(directory=SAMPLE_DIR, cutoff="2011-10-01", k=k)
            code = await asyncio.to_thread(_evaluate, args, settings(empty_url))
            assert code == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 2
        printed = json.loads(lines[-1])
        stored = (await graphql.data(OFFLINE, {}, admin))["offlineEvaluation"]
    assert stored["k"] == 10 == printed["k"]
    assert stored["dataset"] == "sample_data" and stored["cutoff"] == "2011-10-01"
    assert stored["evalUsers"] == printed["eval_users"] > 0
    assert stored["default"] == "default"
    assert datetime.fromisoformat(stored["ranAt"]) <= utcnow()
    assert [model["name"] for model in stored["models"]] == list(printed["models"])
    for model in stored["models"]:
        metrics = printed["models"][model["name"]]
        assert model["ndcg"] == metrics["ndcg"] and model["hitRate"] == metrics["hit_rate"]
        assert model["msPerUser"] == metrics["ms_per_user"] and model["map"] == metrics["map"]
