"""The `recommender` command line: serve, train, migrate, import, demo, schema export, admin,
evaluate."""

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from app.settings import PROJECT_ROOT, Settings, get_settings

SAMPLE_DATASET = PROJECT_ROOT / "app" / "sample_data"
TRAINER_NICENESS = 10  # a trainer on the API's host yields the CPU to it


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.auth import weak_secret_reason
    from app.observability import LOG_CONFIG

    settings = get_settings()
    if settings.is_production and (reason := weak_secret_reason(settings)):
        print(f"refusing to start in production: {reason}", file=sys.stderr)
        return 2
    if args.workers > 1 and not settings.redis_url:
        print(
            "several workers without REDIS_URL: per-customer result caching is off, so that an "
            "event seen by one worker is never hidden by another worker's cache",
            file=sys.stderr,
        )
        os.environ["RECOMMENDATION_CACHE_TTL_SECONDS"] = "0"
    trainer = _start_embedded_trainer() if settings.trainer == "embedded" else None
    metrics_dir = _multiprocess_metrics_dir() if args.workers > 1 else None
    try:
        uvicorn.run(
            "app.asgi:create_server_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            proxy_headers=True,
            timeout_graceful_shutdown=20,
            log_config=LOG_CONFIG,
            access_log=False,
        )
    finally:
        if trainer is not None:
            _stop(trainer)
        if metrics_dir is not None:
            metrics_dir.cleanup()
    return 0


def _multiprocess_metrics_dir() -> tempfile.TemporaryDirectory[str] | None:
    """Prometheus multiprocess mode for the workers: `PROMETHEUS_MULTIPROC_DIR` (emptied now),
    or a temporary folder removed at exit (returned, to clean up)."""
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if configured:
        for stale in Path(configured).glob("*.db"):
            stale.unlink()
        return None
    folder = tempfile.TemporaryDirectory(prefix="recommender-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder.name
    return folder


def _start_embedded_trainer() -> subprocess.Popen[bytes]:
    """`recommender trainer` as a child process with this process's environment; it stops by
    itself when this process is gone (even after SIGKILL)."""
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "trainer", "--parent-pid", str(os.getpid())],
        # The trainer serves its own metrics (TRAINER_METRICS_PORT), never the workers' files.
        env={k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _trainer(args: argparse.Namespace) -> int:
    from logging.config import dictConfig

    from app.observability import LOG_CONFIG
    from app.trainer import run_trainer

    dictConfig(LOG_CONFIG)
    os.nice(TRAINER_NICENESS)
    asyncio.run(run_trainer(get_settings(), args.parent_pid))
    return 0


def _train() -> int:
    from logging.config import dictConfig

    from app.observability import LOG_CONFIG
    from app.trainer import train_once

    dictConfig(LOG_CONFIG)
    os.nice(TRAINER_NICENESS)
    published = asyncio.run(train_once(get_settings()))
    print(
        json.dumps(
            [
                {
                    "config": p.config,
                    "version": p.version,
                    "artifact": p.artifact,
                    "fit_seconds": round(p.fit_seconds, 3),
                    "events": p.events,
                }
                for p in published
            ]
        )
    )
    return 0


async def _upgrade() -> None:
    from app.db import create_engine
    from app.migrate import upgrade

    engine = create_engine(get_settings())
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def _import(directory: Path) -> int:
    from app.db import create_engine
    from app.services.imports import ImportFailed, import_dataset

    engine = create_engine(get_settings())
    try:
        report = await import_dataset(engine, directory)
    except ImportFailed as failure:
        print(f"import of {directory} failed; nothing was imported:", file=sys.stderr)
        for problem in failure.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    print(
        json.dumps(
            {
                "directory": str(directory),
                "products": report.products,
                "customers_created": report.customers_created,
                "events_read": report.events_read,
                "events_imported": report.events_imported,
                "seconds": round(report.seconds, 2),
            }
        )
    )
    return 0


async def _demo() -> int:
    """Import the Online Retail data set (or the bundled sample) into an empty database."""
    from sqlalchemy import func, select

    from app.db import create_engine
    from app.models import Product

    engine = create_engine(get_settings())
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(select(func.count()).select_from(Product))
    finally:
        await engine.dispose()
    if count:
        print(f"the database already has {count} products; demo data not loaded", file=sys.stderr)
        return 0
    directory = get_settings().dataset_dir
    if not (directory / "products.csv").exists():
        directory = SAMPLE_DATASET
    print(f"loading demo data from {directory}", file=sys.stderr)
    return await _import(directory)


async def _create_admin(username: str, email: str, password: str) -> int:
    from app.container import build_services
    from app.errors import ServiceError
    from app.models import Role

    services = build_services(get_settings())
    try:
        signed_in = await services.users.register(username, email, password, role=Role.ADMIN)
    except ServiceError as error:
        print(f"{error.field}: {error.message}", file=sys.stderr)
        return 1
    finally:
        await services.close()
    print(f"admin {signed_in.user.username} created", file=sys.stderr)
    return 0


def _export_schema() -> int:
    from schema import build_schema

    sys.stdout.write(build_schema().as_str() + "\n")
    return 0


async def _store_evaluation(settings: Settings, result: dict[str, Any]) -> None:
    """Keep an evaluation result in the database (the admin view's `offlineEvaluation`)."""
    from app.database import Database
    from app.services.evaluations import EvaluationService

    database = Database(settings)
    try:
        await EvaluationService(database).store(result)
    finally:
        await database.close()


def _evaluate(args: argparse.Namespace, settings: Settings | None = None) -> int:
    """Print the evaluation as one JSON line, then store it in the database of `settings`
    (default: the process settings) unless `--no-store`. Storing is a convenience for the admin
    view: when the database cannot take it (not migrated, unreachable) a note goes to stderr and
    the exit code stays 0, since the evaluation itself succeeded."""
    import numpy as np

    from engine.data import load_dataset
    from engine.evaluate import evaluate

    catalog, events = load_dataset(args.directory)
    result = evaluate(
        catalog,
        events,
        np.datetime64(args.cutoff),
        k=args.k,
        progress=sys.stderr,  # the stream now, not the one bound when engine.evaluate loaded
        dataset=args.directory.resolve().name,
    )
    print(json.dumps(result), flush=True)
    if getattr(args, "no_store", False):
        return 0
    try:
        asyncio.run(_store_evaluation(settings or get_settings(), result))
    except Exception as error:
        print(
            f"note: evaluation not stored in the database ({type(error).__name__}); "
            "run `recommender db upgrade` first to keep it for the admin view, or pass --no-store",
            file=sys.stderr,
        )
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="recommender", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the API (and the web app) over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    trainer = commands.add_parser(
        "trainer", help="train and publish models whenever they are stale, until stopped"
    )
    trainer.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    commands.add_parser("train", help="train and publish every needed model once, then exit")
    db = commands.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade"])
    data = commands.add_parser("import", help="import a dataset folder (all or nothing)")
    data.add_argument("directory", type=Path)
    commands.add_parser("demo", help="load the demo data set into an empty database")
    commands.add_parser("export-schema", help="print the GraphQL SDL (schema.graphql)")
    admin = commands.add_parser("create-admin", help="create an admin account")
    admin.add_argument("--username", required=True)
    admin.add_argument("--email", required=True)
    admin.add_argument("--password", required=True)
    evaluate = commands.add_parser(
        "evaluate", help="offline evaluation: one JSON line, also kept in the database"
    )
    evaluate.add_argument("directory", type=Path)
    evaluate.add_argument("--cutoff", required=True, help="YYYY-MM-DD; train before, test after")
    evaluate.add_argument("--k", type=int, default=10)
    evaluate.add_argument(
        "--no-store", action="store_true", help="only print; do not keep it in the database"
    )
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "trainer":
        return _trainer(args)
    if args.command == "train":
        return _train()
    if args.command == "db":
        asyncio.run(_upgrade())
        return 0
    if args.command == "import":
        return asyncio.run(_import(args.directory))
    if args.command == "demo":
        return asyncio.run(_demo())
    if args.command == "export-schema":
        return _export_schema()
    if args.command == "create-admin":
        return asyncio.run(_create_admin(args.username, args.email, args.password))
    return _evaluate(args)


if __name__ == "__main__":
    sys.exit(main())
