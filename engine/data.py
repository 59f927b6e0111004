"""Catalog and event containers and the CSV loader (import format of datasets/README.md)."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import gzip
import io
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np


@dataclass(frozen=True)
class Catalog:
    """m products; every array has shape (m,); strings are "" when missing; ids unique."""

    product_ids: np.ndarray
    names: np.ndarray
    descriptions: np.ndarray
    categories: np.ndarray
    tags: np.ndarray
    prices: np.ndarray

    def __len__(self) -> int:
        return int(self.product_ids.shape[0])


@dataclass(frozen=True)
class Events:
    """n events in any order; every array has shape (n,); timestamps are datetime64[s]."""

    user_ids: np.ndarray
    product_ids: np.ndarray
    types: np.ndarray
    quantities: np.ndarray
    timestamps: np.ndarray

    def __len__(self) -> int:
        return int(self.user_ids.shape[0])

    def select(self, mask: np.ndarray) -> Events:
        """Events where the boolean/int index `mask` selects, same order."""
        return Events(
            self.user_ids[mask],
            self.product_ids[mask],
            self.types[mask],
            self.quantities[mask],
            self.timestamps[mask],
        )

    @staticmethod
    def empty() -> Events:
        """Zero events."""
        return Events(
            np.array([], dtype=str),
            np.array([], dtype=str),
            np.array([], dtype=str),
            np.array([], dtype=np.int64),
            np.array([], dtype="datetime64[s]"),
        )

    @staticmethod
    def from_records(
        records: list[tuple[str, str, str, str | np.datetime64]]
        | list[tuple[str, str, str, str | np.datetime64, int]],
    ) -> Events:
        """Events from (user_id, product_id, type, timestamp[, quantity]) tuples."""
        if not records:
            return Events.empty()
        users = np.array([str(r[0]) for r in records])
        products = np.array([str(r[1]) for r in records])
        types = np.array([str(r[2]) for r in records])
        stamps = np.array([np.datetime64(r[3], "s") for r in records], dtype="datetime64[s]")
        qty = np.array([int(r[4]) if len(r) > 4 else 1 for r in records], dtype=np.int64)  # type: ignore[misc]
        return Events(users, products, types, qty, stamps)


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _column(rows: list[list[str]], idx: int | None, default: str = "") -> np.ndarray:
    if idx is None:
        return np.array([default] * len(rows), dtype=str) if rows else np.array([], dtype=str)
    return np.array([r[idx] if idx < len(r) else default for r in rows], dtype=str)


def load_catalog(path: str | Path) -> Catalog:
    """Read products.csv (id,name,description,category,price,tags; other columns ignored)."""
    with _open_text(Path(path)) as fh:
        reader = csv.reader(fh)
        header = [h.strip().lower() for h in next(reader)]
        rows = [r for r in reader if r]
    col = {name: i for i, name in enumerate(header)}
    ids = _column(rows, col.get("id"))
    prices_raw = _column(rows, col.get("price"), "0")
    prices = np.array([float(p) if p.strip() else 0.0 for p in prices_raw], dtype=np.float64)
    names = np.char.strip(_column(rows, col.get("name")))
    descriptions = np.char.strip(_column(rows, col.get("description")))
    categories = np.char.strip(_column(rows, col.get("category")))
    tags = np.char.strip(_column(rows, col.get("tags")))
    if len(ids) == 0:
        ids = np.array([], dtype=str)
    _, first = np.unique(ids, return_index=True)
    if len(first) != len(ids):
        keep = np.sort(first)
        ids, names, descriptions, categories, tags, prices = (
            a[keep] for a in (ids, names, descriptions, categories, tags, prices)
        )
    return Catalog(ids, names, descriptions, categories, tags, prices)


def load_events(path: str | Path, chunk: int = 1_000_000) -> Events:
    """Read interactions.csv[.gz] (header: user_id,product_id,type,timestamp[,quantity]).

    Rows become numpy columns `chunk` rows at a time, so peak memory is the arrays plus one
    chunk of Python strings (not five Python strings per row of the whole file).
    """
    with _open_text(Path(path)) as fh:
        reader = csv.reader(fh)
        header = [h.strip().lower() for h in next(reader)]
        col = {name: i for i, name in enumerate(header)}
        iu, ip, it, its = col["user_id"], col["product_id"], col["type"], col["timestamp"]
        iq = col.get("quantity")
        parts: list[Events] = []
        rows: list[list[str]] = []
        for r in reader:
            if not r:
                continue
            rows.append(r)
            if len(rows) == chunk:
                parts.append(_events_of(rows, iu, ip, it, its, iq))
                rows = []
        if rows:
            parts.append(_events_of(rows, iu, ip, it, its, iq))
    if not parts:
        return Events.empty()
    if len(parts) == 1:
        return parts[0]
    return Events(
        *(np.concatenate([getattr(e, f.name) for e in parts]) for f in dataclasses.fields(Events))
    )


def _events_of(
    rows: list[list[str]], iu: int, ip: int, it: int, its: int, iq: int | None
) -> Events:
    """One chunk of csv rows as Events (quantity 1 when absent or empty, at least 1)."""
    users = np.array([r[iu] for r in rows], dtype=str)
    products = np.array([r[ip] for r in rows], dtype=str)
    types = np.array([r[it] for r in rows], dtype=str)
    timestamps = parse_timestamps([r[its] for r in rows])
    if iq is not None:
        qtys = [r[iq] if iq < len(r) and r[iq] else "1" for r in rows]
        quantities = np.array(qtys, dtype=np.int64)
    else:
        quantities = np.ones(len(rows), dtype=np.int64)
    return Events(users, products, types, np.maximum(quantities, 1), timestamps)


def parse_timestamps(stamps: list[str]) -> np.ndarray:
    """ISO 8601 strings -> datetime64[s]; offsets/"Z" are dropped (times are shop-local)."""
    if max(map(len, stamps), default=0) <= 19:
        try:
            return np.array(stamps, dtype="datetime64[s]")
        except ValueError:
            pass
    out = []
    for text in stamps:
        parsed = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        out.append(np.datetime64(parsed.replace(tzinfo=None), "s"))
    return np.array(out, dtype="datetime64[s]")


def load_dataset(directory: str | Path) -> tuple[Catalog, Events]:
    """Load products.csv and interactions.csv(.gz) from `directory`."""
    d = Path(directory)
    catalog = load_catalog(d / "products.csv")
    inter = d / "interactions.csv"
    if not inter.exists():
        inter = d / "interactions.csv.gz"
    return catalog, load_events(inter)
