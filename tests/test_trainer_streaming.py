"""The trainer's event load streams typed columns and gives the engine exactly the input that a
row-by-row ORM read gives, on SQLite and PostgreSQL, whatever the partition size."""

from datetime import datetime

import numpy as np
import pytest
from sqlalchemy import select

import app.trainer as trainer
from app.db import create_engine, create_session_factory
from app.models import Interaction, Product
from app.settings import Settings
from engine.config import CONFIGS
from engine.data import Events
from engine.training import build_state, prepare_events


async def rows_read_one_by_one(url: str) -> tuple[np.ndarray, Events]:
    """The reference: ORM objects, one per event, into Python lists (what the trainer did)."""
    engine = create_engine(Settings(database_url=url))
    try:
        async with create_session_factory(engine)() as session:
            products = (
                await session.scalars(
                    select(Product).where(Product.deleted_at.is_(None)).order_by(Product.id)
                )
            ).all()
            sku_of = {p.id: p.sku for p in products}
            events = (await session.scalars(select(Interaction).order_by(Interaction.id))).all()
    finally:
        await engine.dispose()
    records: list[tuple[str, str, str, datetime, int]] = [
        (
            str(e.user_id),
            sku_of[e.product_id],
            e.type,
            e.occurred_at.replace(tzinfo=None),
            e.quantity,
        )
        for e in events
        if e.product_id in sku_of
    ]
    return np.array([p.sku for p in products]), Events.from_records(records)


@pytest.mark.parametrize("partition", [7, 20_000])
async def test_streamed_events_equal_a_row_by_row_read(
    sample_database_url: str, partition: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trainer, "FETCH_PARTITION", partition)
    engine = create_engine(Settings(database_url=sample_database_url))
    try:
        data = await trainer.read_training_data(create_session_factory(engine))
    finally:
        await engine.dispose()
    skus, reference = await rows_read_one_by_one(sample_database_url)

    assert len(reference) > 1000
    assert data.catalog.product_ids.tolist() == skus.tolist()
    got, want = data.events, reference
    assert got.user_ids.tolist() == want.user_ids.tolist()
    assert got.product_ids.tolist() == want.product_ids.tolist()
    assert got.types.tolist() == want.types.tolist()
    assert got.quantities.tolist() == want.quantities.tolist()
    assert np.array_equal(got.timestamps, want.timestamps)

    # the engine's input matrices are the same
    index = {p: i for i, p in enumerate(skus.tolist())}
    now = want.timestamps.max()
    states = [
        build_state(
            CONFIGS["default"], data.catalog, prepare_events(ev, index, now, None), now, index
        )
        for ev in (got, want)
    ]
    assert states[0].user_ids.tolist() == states[1].user_ids.tolist()
    assert (states[0].strengths != states[1].strengths).nnz == 0
    assert (states[0].purchased != states[1].purchased).nnz == 0


async def test_events_of_deleted_products_are_left_out_and_the_watermark_is_the_newest_id(
    empty_database_url: str,
) -> None:
    engine = create_engine(Settings(database_url=empty_database_url))
    sessions = create_session_factory(engine)
    try:
        async with sessions() as session:
            from app.models import User

            user = User(external_id="c1")
            live = Product(sku="LIVE", name="Live mug", price=1)
            gone = Product(sku="GONE", name="Old mug", price=1, deleted_at=datetime(2026, 1, 1))
            session.add_all([user, live, gone])
            await session.flush()
            at = datetime(2026, 3, 1, 12, 30, 5)
            session.add_all(
                [
                    Interaction(user_id=user.id, product_id=live.id, type="view", occurred_at=at),
                    Interaction(
                        user_id=user.id, product_id=gone.id, type="purchase", occurred_at=at
                    ),
                    Interaction(
                        user_id=user.id,
                        product_id=live.id,
                        type="purchase",
                        quantity=3,
                        occurred_at=at,
                    ),
                ]
            )
            await session.commit()
            newest = max((await session.scalars(select(Interaction.id))).all())
        data = await trainer.read_training_data(sessions)
    finally:
        await engine.dispose()
    assert data.watermark == newest
    assert data.events.product_ids.tolist() == ["LIVE", "LIVE"]
    assert data.events.types.tolist() == ["view", "purchase"]
    assert data.events.quantities.tolist() == [1, 3]
    assert data.events.timestamps.tolist() == [np.datetime64("2026-03-01T12:30:05", "s").item()] * 2
    assert data.catalog.product_ids.tolist() == ["LIVE"]


async def test_a_synthetic_shop_written_into_the_database_is_what_the_trainer_reads(
    empty_database_url: str,
) -> None:
    from bench.synthetic import generate, write_database

    catalog, events = generate(users=120, products=40, events=1_500, categories=4, seed=0)
    assert await write_database(catalog, events, empty_database_url, batch=400) == 1_500
    engine = create_engine(Settings(database_url=empty_database_url))
    try:
        data = await trainer.read_training_data(create_session_factory(engine))
    finally:
        await engine.dispose()
    assert sorted(data.catalog.product_ids.tolist()) == sorted(catalog.product_ids.tolist())
    assert len(data.events) == 1_500
    assert sorted(data.events.product_ids.tolist()) == sorted(events.product_ids.tolist())
    assert np.array_equal(np.sort(data.events.timestamps), np.sort(events.timestamps))
    assert len(np.unique(data.events.user_ids)) == len(np.unique(events.user_ids))
    with pytest.raises(RuntimeError, match="already holds events"):
        await write_database(catalog, events, empty_database_url)
