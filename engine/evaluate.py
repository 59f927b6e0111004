"""Offline evaluation per EVALUATION.md: time split, novel-product relevance, top-k metrics.

Usage: python -m engine.evaluate DIR --cutoff 2011-10-01 [--k 10]
       [--configs default,default-blend,ranked,brief,popularity (default: all of CONFIGS)]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from engine.config import CONFIGS, EngineConfig
from engine.data import Catalog, Events, load_dataset
from engine.metrics import aggregate, intra_list_diversity
from engine.models.content import content_model
from engine.recommender import Recommender, shared_fit, stage_free


def split_relevance(
    events: Events, cutoff: np.datetime64
) -> tuple[Events, list[str], list[set[str]]]:
    """Train events (< cutoff), evaluated users (sorted) and their novel test products."""
    cutoff = np.datetime64(cutoff, "s")
    is_train = events.timestamps < cutoff
    train = events.select(is_train)
    seen: dict[str, set[str]] = {}
    for u, p in zip(train.user_ids.tolist(), train.product_ids.tolist(), strict=True):
        seen.setdefault(u, set()).add(p)
    novel: dict[str, set[str]] = {}
    for u, p in zip(
        events.user_ids[~is_train].tolist(), events.product_ids[~is_train].tolist(), strict=True
    ):
        own = seen.get(u)
        if own is not None and p not in own:
            novel.setdefault(u, set()).add(p)
    users = sorted(novel)
    return train, users, [novel[u] for u in users]


def evaluate(
    catalog: Catalog,
    events: Events,
    cutoff: np.datetime64,
    k: int = 10,
    configs: Mapping[str, EngineConfig] | None = None,
    progress: TextIO | None = sys.stderr,
    dataset: str = "",
) -> dict[str, Any]:
    """Train every config on events before `cutoff` and score the protocol's evaluated users.

    All of a user's train products are excluded (exclude="interacted"), as the protocol demands.
    Beside the protocol's metrics: intra_list_diversity (1 - mean pairwise TF-IDF cosine of the
    products in a list, engine.metrics), the stage that ordered the lists ("ranker" / "blend")
    and, for configs with a ranker, its training seconds, size and validation NDCG.
    Configs that differ only in name, ranker and ranker_must_win share one fit
    (`stage_free`, `shared_fit`, `Recommender.staged`): their blend and models are the same; their
    train_seconds is that fit's, named by fit_shared_with. Those that serve the same stage
    also share the lists (lists_shared_with; same model, same lists).
    configs None = every entry of CONFIGS ("default", "brief", "popularity").
    """
    configs = dict(configs) if configs is not None else dict(CONFIGS)
    cutoff = np.datetime64(cutoff, "s")
    train, users, relevant = split_relevance(events, cutoff)
    result: dict[str, Any] = {
        "dataset": dataset,
        "cutoff": str(cutoff.astype("datetime64[D]")),
        "k": k,
        "users": len(np.unique(train.user_ids)),
        "items": len(catalog),
        "train_interactions": len(train),
        "eval_users": len(users),
        "default": "default" if "default" in configs else next(iter(configs), ""),
        "models": {},
    }
    vectors = content_model(catalog, 200_000).tfidf
    index = {p: i for i, p in enumerate(catalog.product_ids.tolist())}
    groups: dict[EngineConfig, list[EngineConfig]] = {}
    for config in configs.values():
        groups.setdefault(stage_free(config), []).append(config)
    fits: dict[EngineConfig, tuple[str, Recommender, float]] = {}
    scored: dict[tuple[EngineConfig, str], tuple[str, list[list[str]], float]] = {}
    for name, config in configs.items():
        key = stage_free(config)
        if key not in fits:
            t0 = time.perf_counter()
            model = Recommender(shared_fit(groups[key])).fit(catalog, train)
            fits[key] = (name, model, time.perf_counter() - t0)
        fitted_by, fitted, fit_s = fits[key]
        model = fitted.staged(config)
        info = model.info
        if (key, info.stage) not in scored:
            t1 = time.perf_counter()
            lists = model.recommend_batch(users, k, exclude="interacted")
            scored[key, info.stage] = (name, lists, time.perf_counter() - t1)
        scored_by, lists, score_s = scored[key, info.stage]
        metrics = aggregate(lists, relevant, k, len(catalog))
        metrics["intra_list_diversity"] = intra_list_diversity(
            [np.array([index[p] for p in ranked[:k]], dtype=np.int64) for ranked in lists], vectors
        )
        metrics = {key: round(v, 4) for key, v in metrics.items()}
        metrics["ms_per_user"] = round(1000.0 * score_s / max(len(users), 1), 3)
        metrics["train_seconds"] = round(fit_s, 2)
        metrics["stage"] = info.stage
        if fitted_by != name:
            metrics["fit_shared_with"] = fitted_by
        if scored_by != name:
            metrics["lists_shared_with"] = scored_by
        if config.ranker:
            metrics["ranker_seconds"] = round(info.ranker_seconds, 2)
            metrics["ranker_bytes"] = info.ranker_bytes
            metrics["validation_ndcg_blend"] = info.validation_ndcg_blend
            metrics["validation_ndcg_ranker"] = info.validation_ndcg_ranker
        result["models"][name] = metrics
        if progress is not None:
            print(
                f"[evaluate] {name}: ndcg={metrics['ndcg']} fit={fit_s:.1f}s "
                f"({fitted_by}) score={score_s:.1f}s ({scored_by}) blend={info.blend}",
                file=progress,
                flush=True,
            )
    return result


def main(argv: list[str] | None = None) -> int:
    """CLI entry: print one JSON line with the evaluation of DIR."""
    parser = argparse.ArgumentParser(prog="python -m engine.evaluate", description=__doc__)
    parser.add_argument("directory")
    parser.add_argument("--cutoff", required=True)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    args = parser.parse_args(argv)
    names = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in names if c not in CONFIGS]
    if unknown:
        parser.error(f"unknown configs {unknown}; known: {sorted(CONFIGS)}")
    catalog, events = load_dataset(args.directory)
    out = evaluate(
        catalog,
        events,
        np.datetime64(args.cutoff),
        args.k,
        {c: CONFIGS[c] for c in names},
        dataset=Path(args.directory).name,
    )
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
