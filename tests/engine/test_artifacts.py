"""Model artifacts: arrays + JSON round-trip to the same recommendations; damage is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine import artifacts
from engine.config import CONFIGS, EngineConfig
from engine.data import Events
from engine.recommender import Recommender
from tests.engine.helpers import catalog, shop_events

USERS = ["m0", "m1", "c0", "c3", "b1", "g0", "mix", "nobody"]


def saved(tmp_path: Path, config: EngineConfig = CONFIGS["default"]) -> tuple[Recommender, Path]:
    model = Recommender(config).fit(catalog(), shop_events())
    directory = tmp_path / "v1"
    artifacts.save(model, directory, {"version": 1}, {"db_ids": np.arange(len(catalog())) + 100})
    return model, directory


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_round_trip_serves_the_same_lists(tmp_path: Path, name: str) -> None:
    model, directory = saved(tmp_path, CONFIGS[name])
    loaded = artifacts.load(directory)
    again = loaded.recommender
    assert again.recommend_batch(USERS, 5) == model.recommend_batch(USERS, 5)
    extra = Events.from_records([("m0", "B1", "purchase", "2024-01-20T00:00:00")])
    for user in USERS:
        assert again.recommend(user, 5, extra) == model.recommend(user, 5, extra)
        assert again.recommend(user, 5, category="Mugs") == model.recommend(
            user, 5, category="Mugs"
        )
    assert again.similar("A1", 4) == model.similar("A1", 4)
    assert again.trending(4) == model.trending(4)
    assert again.info == model.info
    assert loaded.manifest["metadata"] == {"version": 1}
    assert loaded.manifest["config"] == name
    assert loaded.extra_arrays["db_ids"].tolist() == list(range(100, 100 + len(catalog())))


def test_no_pickle_anywhere(tmp_path: Path) -> None:
    _, directory = saved(tmp_path)
    names = {p.name for p in directory.iterdir()}
    assert "manifest.json" in names
    assert all(n.endswith(".npy") or n == "manifest.json" for n in names)
    for path in directory.glob("*.npy"):
        np.load(path, allow_pickle=False)


def test_artifact_is_read_only(tmp_path: Path) -> None:
    _, directory = saved(tmp_path)
    loaded = artifacts.load(directory)
    with pytest.raises(ValueError):
        loaded.extra_arrays["db_ids"][0] = 1


def test_flipped_byte_fails_the_checksum(tmp_path: Path) -> None:
    _, directory = saved(tmp_path)
    path = next(directory.glob("*cf.weights.npy"))
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(artifacts.ArtifactError, match=r"cf\.weights\.npy fails its checksum"):
        artifacts.load(directory)


def test_truncated_file_is_refused(tmp_path: Path) -> None:
    _, directory = saved(tmp_path)
    path = next(directory.glob("*strengths.data.npy"))
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(artifacts.ArtifactError, match=r"strengths\.data"):
        artifacts.load(directory)


def _edit_manifest(directory: Path, edit) -> None:  # type: ignore[no-untyped-def]
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))


def test_shape_in_manifest_must_match_the_file(tmp_path: Path) -> None:
    _, directory = saved(tmp_path)
    name = next(
        n
        for n in json.loads((directory / "manifest.json").read_text())["files"]
        if n.endswith("scorer.pop")
    )
    _edit_manifest(directory, lambda m: m["files"][name].update(shape=[3]))
    with pytest.raises(artifacts.ArtifactError, match=r"scorer\.pop\.npy holds"):
        artifacts.load(directory)


def test_consistent_but_wrong_shapes_are_refused(tmp_path: Path) -> None:
    """A file replaced by a well-formed array of the wrong length, with a matching manifest."""
    _, directory = saved(tmp_path)
    path = next(directory.glob("*scorer.pop.npy"))
    np.save(path, np.zeros(3), allow_pickle=False)
    name = path.name.removesuffix(".npy")
    digest = artifacts._sha256(path)
    _edit_manifest(directory, lambda m: m["files"][name].update(shape=[3], sha256=digest))
    with pytest.raises(artifacts.ArtifactError, match="pop has shape"):
        artifacts.load(directory)


def test_unknown_format_version_is_refused(tmp_path: Path) -> None:
    _, directory = saved(tmp_path)
    _edit_manifest(directory, lambda m: m.update(format_version=99))
    with pytest.raises(artifacts.ArtifactError, match="format_version 99"):
        artifacts.load(directory)


def test_manifest_cannot_name_other_classes(tmp_path: Path) -> None:
    _, directory = saved(tmp_path)
    _edit_manifest(directory, lambda m: m["tree"].update(object="Popen"))
    with pytest.raises(artifacts.ArtifactError, match="unknown class 'Popen'"):
        artifacts.load(directory)


def test_missing_file_and_missing_manifest(tmp_path: Path) -> None:
    _, directory = saved(tmp_path)
    next(directory.glob("*user_ids.npy")).unlink()
    with pytest.raises(artifacts.ArtifactError, match=r"user_ids\.npy is missing"):
        artifacts.load(directory)
    with pytest.raises(artifacts.ArtifactError, match=r"manifest\.json is unreadable"):
        artifacts.load(tmp_path / "absent")


def test_save_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    model, directory = saved(tmp_path)
    with pytest.raises(FileExistsError):
        artifacts.save(model, directory)
