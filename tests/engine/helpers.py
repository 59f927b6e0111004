"""Builders for tiny hand-made shops."""

from __future__ import annotations

import numpy as np

from engine.data import Catalog, Events

PRODUCTS: list[tuple[str, str, str]] = [
    ("A1", "RED CERAMIC MUG", "Mugs"),
    ("A2", "BLUE CERAMIC MUG", "Mugs"),
    ("A3", "GREEN CERAMIC MUG", "Mugs"),
    ("A4", "YELLOW CERAMIC MUG", "Mugs"),
    ("B1", "VANILLA SCENTED CANDLE", "Candles"),
    ("B2", "ROSE SCENTED CANDLE", "Candles"),
    ("B3", "PINE SCENTED CANDLE", "Candles"),
    ("C1", "JUTE SHOPPING BAG", "Bags"),
    ("C2", "CANVAS SHOPPING BAG", "Bags"),
    ("G1", "GIFT CARD TEN", ""),
    ("G2", "GIFT CARD TWENTY", ""),
    ("G3", "GIFT CARD FIFTY", ""),
    ("N1", "PURPLE CERAMIC MUG", "Mugs"),
]


def catalog(products: list[tuple[str, str, str]] | None = None) -> Catalog:
    """Catalog of (id, name, category) rows; no descriptions/tags, price 1."""
    rows = products or PRODUCTS
    m = len(rows)
    return Catalog(
        product_ids=np.array([r[0] for r in rows]),
        names=np.array([r[1] for r in rows]),
        descriptions=np.array([""] * m),
        categories=np.array([r[2] for r in rows]),
        tags=np.array([""] * m),
        prices=np.ones(m),
    )


def events(rows: list[tuple[str, str, str, int]]) -> Events:
    """Events from (user, product, type, day of 2024-01) rows."""
    return Events.from_records([(u, p, t, f"2024-01-{d:02d}T12:00:00") for u, p, t, d in rows])


def shop_events() -> Events:
    """Mug lovers, candle lovers, bag buyers, gift cards; N1 has no events."""
    rows: list[tuple[str, str, str, int]] = []
    for i in range(6):
        rows += [(f"m{i}", "A1", "purchase", 1 + i), (f"m{i}", "A2", "purchase", 2 + i)]
        if i % 2 == 0:
            rows.append((f"m{i}", "A3", "purchase", 3 + i))
        if i < 4:
            rows.append((f"m{i}", "G1", "purchase", 4 + i))
    for i in range(6):
        rows += [(f"c{i}", "B1", "purchase", 1 + i), (f"c{i}", "B2", "purchase", 2 + i)]
        if i % 2 == 1:
            rows.append((f"c{i}", "B3", "purchase", 3 + i))
    for i in range(4):
        rows += [(f"b{i}", "C1", "purchase", 5 + i), (f"b{i}", "C2", "purchase", 6 + i)]
        rows += [(f"b{i}", "B1", "view", 7 + i)]
    rows += [("g0", "G1", "purchase", 9), ("g0", "G2", "purchase", 9), ("g0", "G3", "purchase", 10)]
    rows += [
        ("mix", "A1", "purchase", 11),
        ("mix", "A4", "view", 11),
        ("mix", "G2", "purchase", 12),
    ]
    rows += [("mix", "A2", "cart_add", 12)]
    return events(rows)
