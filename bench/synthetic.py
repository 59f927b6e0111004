"""Seeded synthetic shop in the import format: power-law popularity, per-user category affinity,
mixed event types, product launches and timestamps over one year.

python bench/synthetic.py OUT_DIR [--users N --products M --events E --categories C --seed S]
python bench/synthetic.py --database-url URL [same options]   # straight into a migrated, empty
    database (no import-file round trip; events get no import key, so run it once)
"""

from __future__ import annotations

import argparse
import csv
import gzip
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.data import Catalog, Events

_ADJ = (
    "classic",
    "modern",
    "vintage",
    "soft",
    "large",
    "small",
    "deluxe",
    "eco",
    "smart",
    "mini",
    "pro",
    "light",
    "heavy",
    "retro",
    "premium",
    "basic",
    "compact",
    "cozy",
    "bold",
    "slim",
)
_COLOURS = (
    "red",
    "blue",
    "green",
    "black",
    "white",
    "pink",
    "grey",
    "gold",
    "silver",
    "ivory",
    "navy",
    "orange",
)
_MATERIALS = (
    "cotton",
    "wool",
    "steel",
    "wood",
    "glass",
    "leather",
    "bamboo",
    "ceramic",
    "plastic",
    "linen",
)
_SYLLABLES = (
    "ka",
    "lo",
    "mi",
    "ne",
    "ru",
    "ta",
    "vo",
    "shi",
    "bel",
    "dor",
    "fen",
    "gar",
    "hul",
    "jin",
    "pra",
    "zu",
)

EVENT_TYPES = np.array(["view", "click", "cart_add", "purchase"])
EVENT_MIX = np.array([0.55, 0.22, 0.13, 0.10])


def _word(rng: np.random.Generator) -> str:
    return "".join(rng.choice(_SYLLABLES, size=rng.integers(2, 4)))


def generate(
    users: int = 100_000,
    products: int = 20_000,
    events: int = 2_000_000,
    categories: int = 40,
    seed: int = 7,
    start: str = "2023-01-01",
) -> tuple[Catalog, Events]:
    """(catalog, events) of a synthetic shop; events sorted by time; deterministic for a seed."""
    rng = np.random.default_rng(seed)
    cat_names = np.array([f"{_word(rng).title()} {i}" for i in range(categories)])
    nouns = [[_word(rng) for _ in range(8)] for _ in range(categories)]
    cat_size = rng.dirichlet(np.full(categories, 2.0))
    item_cat = rng.choice(categories, size=products, p=cat_size)
    popularity = rng.permutation(1.0 / np.arange(1, products + 1) ** 0.9)
    launch = np.where(rng.random(products) < 0.6, 0.0, rng.uniform(0, 330, products))
    names, descs, tags = [], [], []
    for i in range(products):
        c = item_cat[i]
        noun = nouns[c][rng.integers(8)]
        adj, colour, mat = rng.choice(_ADJ), rng.choice(_COLOURS), rng.choice(_MATERIALS)
        names.append(f"{adj} {colour} {mat} {noun}".upper())
        descs.append(f"A {adj} {noun} made of {mat}, in {colour}." if rng.random() < 0.7 else "")
        tags.append(
            ";".join(sorted({colour, mat, str(rng.choice(_ADJ))})) if rng.random() < 0.8 else ""
        )
    prices = np.round(np.exp(rng.normal(2.5, 0.8, products)), 2)
    catalog = Catalog(
        product_ids=np.array([f"P{i:06d}" for i in range(products)]),
        names=np.array(names),
        descriptions=np.array(descs),
        categories=np.where(rng.random(products) < 0.97, cat_names[item_cat], ""),
        tags=np.array(tags),
        prices=prices,
    )

    activity = rng.pareto(1.6, users) + 1.0
    user_of = rng.choice(users, size=events, p=activity / activity.sum())
    fav = np.stack([rng.choice(categories, size=users, p=cat_size) for _ in range(3)], axis=1)
    fav_p = rng.dirichlet(np.ones(3), size=users)
    slot = (rng.random(events)[:, None] > np.cumsum(fav_p[user_of], axis=1)).sum(1).clip(0, 2)
    ev_cat = np.where(
        rng.random(events) < 0.8,
        fav[user_of, slot],
        rng.choice(categories, size=events, p=cat_size),
    )
    ev_item = np.empty(events, dtype=np.int64)
    for c in range(categories):
        idx = np.flatnonzero(ev_cat == c)
        members = np.flatnonzero(item_cat == c)
        if len(idx) == 0 or len(members) == 0:
            ev_item[idx] = rng.choice(products, size=len(idx), p=popularity / popularity.sum())
            continue
        cdf = np.cumsum(popularity[members])
        ev_item[idx] = members[
            np.searchsorted(cdf, rng.random(len(idx)) * cdf[-1]).clip(0, len(members) - 1)
        ]
    user_mid = rng.uniform(0, 365, users)
    day = np.clip(user_mid[user_of] + rng.normal(0, 60, events), launch[ev_item], 364.99)
    day = np.maximum(
        day, launch[ev_item] + rng.uniform(0, 365 - launch[ev_item]) * (day < launch[ev_item])
    )
    seconds = (day * 86400).astype(np.int64)
    stamps = np.datetime64(start, "s") + seconds.astype("timedelta64[s]")
    types = EVENT_TYPES[rng.choice(4, size=events, p=EVENT_MIX)]
    qty = np.where(types == "purchase", rng.geometric(0.6, events), 1).astype(np.int64)
    order = np.argsort(stamps, kind="stable")
    ev = Events(
        user_ids=np.char.add("U", user_of.astype(str))[order],
        product_ids=catalog.product_ids[ev_item][order],
        types=types[order],
        quantities=qty[order],
        timestamps=stamps[order],
    )
    return catalog, ev


def write_dataset(
    catalog: Catalog, events: Events, directory: str | Path, gz: bool = False
) -> Path:
    """Write products.csv and interactions.csv[.gz] in the import format; returns the directory."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    with open(d / "products.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "name", "description", "category", "price", "tags"])
        for row in zip(
            catalog.product_ids,
            catalog.names,
            catalog.descriptions,
            catalog.categories,
            catalog.prices,
            catalog.tags,
            strict=True,
        ):
            w.writerow([row[0], row[1], row[2], row[3], f"{row[4]:.2f}", row[5]])
    path = d / ("interactions.csv.gz" if gz else "interactions.csv")
    stamps = events.timestamps.astype("datetime64[s]").astype(str)
    with (
        gzip.open(path, "wt", encoding="utf-8", newline="")
        if gz
        else open(path, "w", encoding="utf-8", newline="")
    ) as fh:
        w = csv.writer(fh)
        w.writerow(["user_id", "product_id", "type", "timestamp", "quantity"])
        w.writerows(
            zip(
                events.user_ids.tolist(),
                events.product_ids.tolist(),
                events.types.tolist(),
                stamps.tolist(),
                events.quantities.tolist(),
                strict=True,
            )
        )
    return d


async def write_database(
    catalog: Catalog, events: Events, database_url: str, batch: int = 50_000
) -> int:
    """Insert the shop into a migrated database without events (products, customers by
    external id, events in batches of `batch` rows); returns the number of events written.
    Raises RuntimeError when the database already holds events."""
    from sqlalchemy import func, insert, select

    from app.db import create_engine
    from app.models import Interaction, Product, User
    from app.services.imports import parse_product
    from app.settings import Settings

    engine = create_engine(Settings(database_url=database_url))
    try:
        async with engine.begin() as connection:
            if await connection.scalar(select(func.count()).select_from(Interaction)):
                raise RuntimeError("the database already holds events: use an empty one")
            rows = [
                parse_product(
                    {
                        "id": i,
                        "name": n,
                        "description": d,
                        "category": c,
                        "price": f"{p:.2f}",
                        "tags": t,
                    }
                )
                for i, n, d, c, p, t in zip(
                    catalog.product_ids.tolist(),
                    catalog.names.tolist(),
                    catalog.descriptions.tolist(),
                    catalog.categories.tolist(),
                    catalog.prices.tolist(),
                    catalog.tags.tolist(),
                    strict=True,
                )
            ]
            for start in range(0, len(rows), batch):
                await connection.execute(insert(Product), rows[start : start + batch])
            sku_id = dict((await connection.execute(select(Product.sku, Product.id))).all())
            customers = np.unique(events.user_ids).tolist()
            for start in range(0, len(customers), batch):
                part = [{"external_id": u} for u in customers[start : start + batch]]
                await connection.execute(insert(User), part)
            user_id = dict((await connection.execute(select(User.external_id, User.id))).all())
        for start in range(0, len(events), batch):
            stop = min(len(events), start + batch)
            part = [
                {
                    "user_id": user_id[u],
                    "product_id": sku_id[p],
                    "type": t,
                    "quantity": q,
                    "occurred_at": at,
                }
                for u, p, t, q, at in zip(
                    events.user_ids[start:stop].tolist(),
                    events.product_ids[start:stop].tolist(),
                    events.types[start:stop].tolist(),
                    events.quantities[start:stop].tolist(),
                    events.timestamps[start:stop].astype("datetime64[us]").tolist(),
                    strict=True,
                )
            ]
            async with engine.begin() as connection:
                await connection.execute(insert(Interaction), part)
        return len(events)
    finally:
        await engine.dispose()


def main() -> int:
    """CLI: write a synthetic shop to OUT_DIR or straight into a database."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out", nargs="?")
    p.add_argument("--database-url", help="insert into this migrated, empty database instead")
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--products", type=int, default=20_000)
    p.add_argument("--events", type=int, default=2_000_000)
    p.add_argument("--categories", type=int, default=40)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    if (a.out is None) == (a.database_url is None):
        p.error("give OUT_DIR or --database-url")
    catalog, events = generate(a.users, a.products, a.events, a.categories, a.seed)
    if a.database_url:
        import asyncio

        written = asyncio.run(write_database(catalog, events, a.database_url))
        print(f"{len(catalog)} products, {written} events written", file=sys.stderr)
        return 0
    write_dataset(catalog, events, a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
