"""Import a dataset folder (products.csv + interactions.csv[.gz]) in one transaction.

The whole import is all-or-nothing: any malformed row stops it, nothing is written, and the
report names the file and line of each problem (the first 20). Re-running the same import
changes nothing: products are upserted by id (sku), customers by external id, and events are
deduplicated by a key derived from their content and their occurrence count in the file.
"""

import csv
import gzip
import hashlib
import io
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.enums import InteractionType, Role
from app.models import Interaction, Product, User, utcnow
from app.services.catalog import MAX_PRICE, search_text

PRODUCT_COLUMNS = ("id", "name", "description", "category", "price", "tags")
EVENT_COLUMNS = ("user_id", "product_id", "type", "timestamp")
EVENT_TYPES = {member.value for member in InteractionType}
MAX_REPORTED_ERRORS = 20
IMPORTED_USERNAME_PREFIX = "shop:"


class ImportFailed(Exception):
    """Raised with every problem found (up to 20), each as `file:line: message`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class ImportReport:
    products: int = 0
    customers_created: int = 0
    events_read: int = 0
    events_imported: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def interactions_path(directory: Path) -> Path:
    for name in ("interactions.csv", "interactions.csv.gz"):
        if (directory / name).exists():
            return directory / name
    raise ImportFailed([f"{directory}: no interactions.csv or interactions.csv.gz"])


def _insert(connection: Connection | AsyncConnection, table: Any) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) pairs; raise ImportFailed when the header lacks a required column."""
    with _open_text(path) as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in required if column not in (reader.fieldnames or [])]
        if missing:
            raise ImportFailed([f"{path.name}:1: missing column(s) {', '.join(missing)}"])
        for row in reader:
            yield reader.line_num, row


def parse_product(row: dict[str, str]) -> dict[str, Any]:
    """A products.csv row as column values; raise ValueError naming the bad field."""
    sku = (row.get("id") or "").strip()
    name = (row.get("name") or "").strip()
    if not 1 <= len(sku) <= 64:
        raise ValueError("id must be 1 to 64 characters")
    if not 1 <= len(name) <= 255:
        raise ValueError("name must be 1 to 255 characters")
    try:
        price = Decimal((row.get("price") or "").strip()).quantize(Decimal("0.01"))
    except InvalidOperation as exc:
        raise ValueError(f"price {row.get('price')!r} is not a decimal number") from exc
    if not price.is_finite() or price < 0 or price > MAX_PRICE:
        raise ValueError(f"price {price} is out of range")
    description = row.get("description") or ""
    category = (row.get("category") or "").strip() or None
    tags = [tag.strip() for tag in (row.get("tags") or "").split(";") if tag.strip()]
    return {
        "sku": sku,
        "name": name,
        "description": description,
        "category": category,
        "price": price,
        "tags": tags,
        "search_text": search_text(name, description, tags),
    }


def parse_event(row: dict[str, str]) -> tuple[str, str, str, datetime, int]:
    """(user id, product id, type, timestamp, quantity); raise ValueError naming the bad field."""
    user = (row.get("user_id") or "").strip()
    product = (row.get("product_id") or "").strip()
    kind = (row.get("type") or "").strip()
    if not 1 <= len(user) <= 64:
        raise ValueError("user_id must be 1 to 64 characters")
    if not product:
        raise ValueError("product_id is empty")
    if kind not in EVENT_TYPES:
        raise ValueError(f"type {kind!r} is not one of {', '.join(sorted(EVENT_TYPES))}")
    raw_time = (row.get("timestamp") or "").strip()
    try:
        occurred_at = datetime.fromisoformat(raw_time)
    except ValueError as exc:
        raise ValueError(f"timestamp {raw_time!r} is not ISO 8601 (YYYY-MM-DDTHH:MM:SS)") from exc
    if occurred_at.tzinfo is not None:
        occurred_at = occurred_at.replace(tzinfo=None)
    raw_quantity = (row.get("quantity") or "1").strip()
    try:
        quantity = int(raw_quantity)
    except ValueError as exc:
        raise ValueError(f"quantity {raw_quantity!r} is not a whole number") from exc
    if quantity < 1:
        raise ValueError(f"quantity must be at least 1, got {quantity}")
    return user, product, kind, occurred_at, quantity


async def import_dataset(
    engine: AsyncEngine, directory: Path, batch_size: int = 5000
) -> ImportReport:
    """Import `directory`; raise ImportFailed (and write nothing) when any row is malformed."""
    started = time.perf_counter()
    directory = Path(directory)
    products_file = directory / "products.csv"
    if not products_file.exists():
        raise ImportFailed([f"{directory}: no products.csv"])
    events_file = interactions_path(directory)
    report = ImportReport()
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            await _import_products(connection, products_file, report)
            await _import_events(connection, events_file, report, batch_size)
            if report.problems:
                raise ImportFailed(report.problems)
        except BaseException:
            await transaction.rollback()
            raise
        await transaction.commit()
    report.seconds = time.perf_counter() - started
    return report


def _problem(report: ImportReport, path: Path, line: int, message: str) -> None:
    if len(report.problems) < MAX_REPORTED_ERRORS:
        report.problems.append(f"{path.name}:{line}: {message}")


async def _import_products(connection: AsyncConnection, path: Path, report: ImportReport) -> None:
    values: dict[str, dict[str, Any]] = {}
    for line, row in _rows(path, PRODUCT_COLUMNS):
        try:
            product = parse_product(row)
        except ValueError as exc:
            _problem(report, path, line, str(exc))
            continue
        if product["sku"] in values:
            _problem(report, path, line, f"id {product['sku']!r} appears twice")
            continue
        values[product["sku"]] = product
    if report.problems:
        raise ImportFailed(report.problems)
    now = utcnow()
    rows = [{**product, "created_at": now} for product in values.values()]
    for start in range(0, len(rows), 1000):
        statement = _insert(connection, Product.__table__)
        statement = statement.on_conflict_do_update(
            index_elements=["sku"],
            set_={
                column: statement.excluded[column]
                for column in ("name", "description", "category", "price", "tags", "search_text")
            },
        )
        await connection.execute(statement, rows[start : start + 1000])
    report.products = len(rows)


async def _import_events(
    connection: AsyncConnection, path: Path, report: ImportReport, batch_size: int
) -> None:
    product_ids = {
        sku: id_ for sku, id_ in await connection.execute(select(Product.sku, Product.id))
    }
    user_ids: dict[str, int] = {}
    occurrences: Counter[bytes] = Counter()
    batch: list[tuple[str, int, str, datetime, int, str]] = []
    for line, row in _rows(path, EVENT_COLUMNS):
        report.events_read += 1
        try:
            user, sku, kind, occurred_at, quantity = parse_event(row)
        except ValueError as exc:
            _problem(report, path, line, str(exc))
            continue
        product_id = product_ids.get(sku)
        if product_id is None:
            _problem(report, path, line, f"product_id {sku!r} is not in products.csv")
            continue
        content = f"{user}\x1f{sku}\x1f{kind}\x1f{occurred_at.isoformat()}\x1f{quantity}"
        digest = hashlib.blake2b(content.encode(), digest_size=16).digest()
        occurrence = occurrences[digest]
        occurrences[digest] = occurrence + 1
        key = hashlib.blake2b(digest + occurrence.to_bytes(4, "big"), digest_size=16).hexdigest()
        batch.append((user, product_id, kind, occurred_at, quantity, key))
        if len(batch) >= batch_size and not report.problems:
            await _flush_events(connection, batch, user_ids, report)
            batch = []
    if batch and not report.problems:
        await _flush_events(connection, batch, user_ids, report)


async def _flush_events(
    connection: AsyncConnection,
    batch: list[tuple[str, int, str, datetime, int, str]],
    user_ids: dict[str, int],
    report: ImportReport,
) -> None:
    new_customers = sorted({user for user, *_ in batch if user not in user_ids})
    if new_customers:
        now = utcnow()
        statement = _insert(connection, User.__table__).on_conflict_do_nothing().returning(User.id)
        result = await connection.execute(
            statement,
            [
                {
                    "username": f"{IMPORTED_USERNAME_PREFIX}{external_id}"[:64],
                    "external_id": external_id,
                    "role": Role.CUSTOMER.value,
                    "created_at": now,
                }
                for external_id in new_customers
            ],
        )
        report.customers_created += len(result.all())
        for start in range(0, len(new_customers), 1000):
            chunk = new_customers[start : start + 1000]
            found = await connection.execute(
                select(User.external_id, User.id).where(User.external_id.in_(chunk))
            )
            user_ids.update({external_id: id_ for external_id, id_ in found})
    statement = (
        _insert(connection, Interaction.__table__)
        .on_conflict_do_nothing(index_elements=["event_key"])
        .returning(Interaction.id)
    )
    result = await connection.execute(
        statement,
        [
            {
                "user_id": user_ids[user],
                "product_id": product_id,
                "type": kind,
                "occurred_at": occurred_at,
                "quantity": quantity,
                "event_key": key,
            }
            for user, product_id, kind, occurred_at, quantity, key in batch
        ],
    )
    report.events_imported += len(result.all())
