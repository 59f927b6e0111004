"""Importing a dataset folder: all or nothing, idempotent, errors name the file and line."""

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.db import create_engine
from app.models import Interaction, Product, User
from app.services.imports import ImportFailed, import_dataset
from app.settings import PROJECT_ROOT, Settings
from tests.conftest import SAMPLE_DIR

PRODUCTS = """id,name,description,category,price,tags
A1,RED MUG,A mug,Kitchen,2.50,red;mug
B2,BLUE MUG,,Kitchen,2.75,
C3,OAK FRAME,Frame for photos,,12.00,wood
"""
EVENTS = """user_id,product_id,type,timestamp,quantity
u1,A1,view,2011-01-01T10:00:00,1
u1,A1,purchase,2011-01-01T10:05:00,2
u1,A1,purchase,2011-01-01T10:05:00,2
u2,B2,cart_add,2011-01-02T09:00:00,1
u2,C3,click,2011-01-02T09:01:00,
"""


def write_dataset(directory: Path, products: str = PRODUCTS, events: str = EVENTS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "products.csv").write_text(products)
    (directory / "interactions.csv").write_text(events)
    return directory


async def counts(url: str) -> tuple[int, int, int]:
    engine = create_engine(Settings(database_url=url))
    async with engine.connect() as connection:
        result = tuple(
            [
                await connection.scalar(select(func.count()).select_from(table))
                for table in (Product, User, Interaction)
            ]
        )
    await engine.dispose()
    return result  # type: ignore[return-value]


async def run_import(url: str, directory: Path, batch_size: int = 5000):  # type: ignore[no-untyped-def]
    engine = create_engine(Settings(database_url=url))
    try:
        return await import_dataset(engine, directory, batch_size=batch_size)
    finally:
        await engine.dispose()


async def test_import_keeps_every_event_and_is_idempotent(
    empty_database_url: str, tmp_path: Path
) -> None:
    directory = write_dataset(tmp_path / "shop")
    report = await run_import(empty_database_url, directory, batch_size=2)
    assert (report.products, report.customers_created, report.events_imported) == (3, 2, 5)
    assert await counts(empty_database_url) == (3, 2, 5)

    again = await run_import(empty_database_url, directory, batch_size=2)
    assert (again.customers_created, again.events_imported) == (0, 0)
    assert await counts(empty_database_url) == (3, 2, 5)

    appended = (
        EVENTS + "u3,A1,purchase,2011-01-03T09:00:00,1\nu1,A1,purchase,2011-01-01T10:05:00,2\n"
    )
    write_dataset(directory, events=appended)
    more = await run_import(empty_database_url, directory)
    assert (more.customers_created, more.events_imported) == (1, 2)
    assert await counts(empty_database_url) == (3, 3, 7)


async def test_updated_products_are_upserted(empty_database_url: str, tmp_path: Path) -> None:
    directory = write_dataset(tmp_path / "shop")
    await run_import(empty_database_url, directory)
    write_dataset(
        directory,
        products=PRODUCTS.replace("RED MUG,A mug,Kitchen,2.50", "RED MUG,A mug,Kitchen,3.10"),
    )
    await run_import(empty_database_url, directory)
    engine = create_engine(Settings(database_url=empty_database_url))
    async with engine.connect() as connection:
        price = await connection.scalar(select(Product.price).where(Product.sku == "A1"))
    await engine.dispose()
    assert float(price) == 3.10


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ("u1,ZZZ,view,2011-01-01T10:00:00,1", "interactions.csv:3: product_id 'ZZZ' is not in"),
        ("u1,A1,view,yesterday,1", "interactions.csv:3: timestamp 'yesterday' is not ISO 8601"),
        ("u1,A1,view,2011-01-01T10:00:00,-2", "interactions.csv:3: quantity must be at least 1"),
        ("u1,A1,like,2011-01-01T10:00:00,1", "interactions.csv:3: type 'like' is not one of"),
    ],
)
async def test_a_malformed_event_row_imports_nothing(
    empty_database_url: str, tmp_path: Path, events: str, expected: str
) -> None:
    body = "user_id,product_id,type,timestamp,quantity\nu1,A1,view,2011-01-01T09:00:00,1\n"
    directory = write_dataset(tmp_path / "bad", events=body + events + "\n")
    with pytest.raises(ImportFailed) as failure:
        await run_import(empty_database_url, directory)
    assert failure.value.problems[0].startswith(expected)
    assert await counts(empty_database_url) == (0, 0, 0)


async def test_malformed_products_are_reported_by_line(
    empty_database_url: str, tmp_path: Path
) -> None:
    products = PRODUCTS + "D4,,,,1.00,\nE5,THING,,,cheap,\nA1,DUPLICATE,,,1.00,\n"
    directory = write_dataset(tmp_path / "bad", products=products)
    with pytest.raises(ImportFailed) as failure:
        await run_import(empty_database_url, directory)
    assert failure.value.problems == [
        "products.csv:5: name must be 1 to 255 characters",
        "products.csv:6: price 'cheap' is not a decimal number",
        "products.csv:7: id 'A1' appears twice",
    ]
    assert await counts(empty_database_url) == (0, 0, 0)


async def test_missing_columns_name_the_file(empty_database_url: str, tmp_path: Path) -> None:
    directory = write_dataset(tmp_path / "bad", events="user,product\nu1,A1\n")
    with pytest.raises(ImportFailed) as failure:
        await run_import(empty_database_url, directory)
    assert failure.value.problems == [
        "interactions.csv:1: missing column(s) user_id, product_id, type, timestamp"
    ]


async def test_gzipped_sample_imports(empty_database_url: str, tmp_path: Path) -> None:
    directory = tmp_path / "sample"
    shutil.copytree(SAMPLE_DIR, directory)
    with gzip.open(directory / "interactions.csv.gz", "rt") as handle:
        rows = sum(1 for _ in handle) - 1
    report = await run_import(empty_database_url, directory)
    assert report.events_imported == rows
    assert (await counts(empty_database_url))[2] == rows


def test_cli_reports_bad_rows_and_exits_non_zero(tmp_path: Path) -> None:
    directory = write_dataset(
        tmp_path / "bad", events="user_id,product_id,type,timestamp\nu1,A1,view,nope\n"
    )
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite'}"
    env = {"DATABASE_URL": url, "PATH": str(Path(sys.executable).parent)}
    subprocess.run(
        [sys.executable, "-m", "app.cli", "db", "upgrade"], env=env, check=True, cwd=PROJECT_ROOT
    )
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "import", str(directory)],
        env=env,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 1
    assert "interactions.csv:2: timestamp 'nope' is not ISO 8601" in result.stderr
    assert "Traceback" not in result.stderr


def test_committed_schema_matches_the_code() -> None:
    exported = subprocess.run(
        [sys.executable, "-m", "app.cli", "export-schema"],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
    ).stdout
    committed = (PROJECT_ROOT / "schema.graphql").read_text()
    assert exported == committed, "schema.graphql drifted: run `make schema` and commit it"
