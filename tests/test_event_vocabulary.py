"""One vocabulary of event types: the engine, the database and the GraphQL enum all follow it."""

from pathlib import Path

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from app.db import create_engine
from app.enums import InteractionType
from app.models import Interaction, Product, User
from app.settings import Settings
from engine.events import EVENT_TYPES, EVENT_WEIGHTS, TYPE_CODES
from engine.training import prepare_events
from schema import build_schema
from tests.conftest import fresh_database

NAMES = [t.name for t in EVENT_TYPES]


def test_codes_rank_commitment_and_weights_follow_it() -> None:
    codes = [t.code for t in EVENT_TYPES]
    assert codes == sorted(set(codes)) and codes[0] >= 1
    assert [EVENT_WEIGHTS[n] for n in NAMES] == sorted(EVENT_WEIGHTS[n] for n in NAMES)
    assert list(TYPE_CODES) == NAMES
    assert EVENT_WEIGHTS == {"view": 1.0, "click": 2.0, "cart_add": 3.0, "purchase": 5.0}


def test_engine_keeps_every_type_of_the_vocabulary() -> None:
    import numpy as np

    from engine.data import Events

    events = Events.from_records([("u", "p", name, "2024-01-01T00:00:00") for name in NAMES])
    prepared = prepare_events(events, {"p": 0}, np.datetime64("2024-01-02T00:00:00"), None)
    assert prepared.codes.tolist() == [TYPE_CODES[n] for n in NAMES]
    assert prepared.weights.tolist() == [EVENT_WEIGHTS[n] for n in NAMES]


def test_graphql_enum_and_orm_enum_are_the_vocabulary() -> None:
    assert [member.value for member in InteractionType] == NAMES
    enum = build_schema()._schema.type_map["InteractionType"]
    assert list(enum.values) == [n.upper() for n in NAMES]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_database_accepts_exactly_the_vocabulary(backend: str, tmp_path: Path) -> None:
    """The migrated CHECK constraint agrees with the vocabulary (a new type needs a migration)."""
    async with fresh_database(backend, tmp_path) as url:
        engine = create_engine(Settings(database_url=url))
        try:
            async with engine.begin() as connection:
                user = (
                    await connection.execute(insert(User).values(username="v").returning(User.id))
                ).scalar_one()
                product = (
                    await connection.execute(
                        insert(Product)
                        .values(sku="P1", name="p", price=1, tags=[], search_text="p")
                        .returning(Product.id)
                    )
                ).scalar_one()
                for name in NAMES:
                    await connection.execute(
                        insert(Interaction).values(user_id=user, product_id=product, type=name)
                    )
            with pytest.raises(IntegrityError):
                async with engine.begin() as connection:
                    await connection.execute(
                        insert(Interaction).values(user_id=user, product_id=product, type="like")
                    )
            async with engine.connect() as connection:
                stored = (await connection.execute(select(Interaction.type))).scalars().all()
            assert sorted(stored) == sorted(NAMES)
        finally:
            await engine.dispose()
