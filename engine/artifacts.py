"""Model artifacts: a fitted recommender as numpy arrays plus a JSON manifest, never pickle.

Layout of an artifact directory:
    manifest.json   {"format_version", "config", "engine_config", "info", "metadata", "tree",
                     "files": {name: {"sha256", "dtype", "shape"}}}
    <name>.npy      one array per file, loaded with allow_pickle=False (memory-mapped by default)

`tree` describes the recommender's serving state: JSON scalars inline, arrays by file name,
sparse CSR matrices as three arrays, and objects only of the classes in `_CLASSES` (so a
manifest can name nothing that runs code). Format 2 adds the learned ranker (engine/ranking.py):
its trees are arrays (TreeEnsemble), walked by numpy at serving, so no LightGBM model string
and no pickle is stored. Format 3 adds the training state's `event_customers` (empty in a
served artifact). `load` checks the format version, every file's
checksum, dtype and shape, and the sparse structure, and raises ArtifactError on any mismatch.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from engine.config import BlendWeights, EngineConfig
from engine.data import Catalog
from engine.features import RankingFacts
from engine.models import model_classes
from engine.models.item_knn import KnnPool
from engine.ranking import Ranker, TreeEnsemble
from engine.recommender import ModelInfo, Recommender
from engine.rules import Picker
from engine.scoring import Scorer
from engine.training import PreparedEvents, TrainingState

FORMAT_VERSION = 3
MANIFEST = "manifest.json"
_CORE_CLASSES: tuple[type, ...] = (
    Recommender,
    Scorer,
    Picker,
    TrainingState,
    Catalog,
    PreparedEvents,
    KnnPool,
    EngineConfig,
    BlendWeights,
    ModelInfo,
    Ranker,
    TreeEnsemble,
    RankingFacts,
)


def _classes() -> dict[str, type]:
    """Classes a manifest may name: the engine's own plus every registered scoring model."""
    return {**{cls.__name__: cls for cls in _CORE_CLASSES}, **model_classes()}


_ALLOWED_KINDS = set("biufUSM")
_KINDS = {
    "float",
    "datetime64",
    "datetime",
    "array",
    "csr",
    "list",
    "index",
    "dict",
    "object",
}  # bool, ints, floats, unicode, bytes, datetime64


class ArtifactError(Exception):
    """An artifact that cannot be trusted; the message names the directory and the file or field."""


@dataclass(frozen=True)
class LoadedArtifact:
    """A verified artifact: recommender (read-only arrays), manifest and the caller's arrays."""

    recommender: Recommender
    manifest: dict[str, Any]
    extra_arrays: dict[str, np.ndarray]


class _Writer:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.seen: dict[int, Any] = {}

    def add(self, name: str, array: np.ndarray) -> str:
        if array.dtype.kind not in _ALLOWED_KINDS:
            raise TypeError(f"{name}: dtype {array.dtype} cannot be stored without pickle")
        self.arrays[name] = np.ascontiguousarray(array)
        return name

    def node(self, obj: Any, path: str) -> Any:
        """A JSON node for `obj`; arrays go to `self.arrays` under names derived from `path`."""
        if obj is None or isinstance(obj, bool | int | str):
            return obj
        if isinstance(obj, float):
            return {"float": repr(obj)}
        if isinstance(obj, np.generic) and not isinstance(obj, np.datetime64):
            return self.node(obj.item(), path)
        if isinstance(obj, np.datetime64):
            return {"datetime64": str(obj)}
        if isinstance(obj, dt.datetime):
            return {"datetime": obj.isoformat()}
        if id(obj) in self.seen:
            return self.seen[id(obj)]
        if isinstance(obj, np.ndarray):
            node = self.seen[id(obj)] = {"array": self.add(path, obj)}
            return node
        if sp.issparse(obj):
            csr = sp.csr_matrix(obj)
            node = self.seen[id(obj)] = {
                "csr": [
                    self.add(f"{path}.data", csr.data),
                    self.add(f"{path}.indices", csr.indices),
                    self.add(f"{path}.indptr", csr.indptr),
                ],
                "shape": list(csr.shape),
            }
            return node
        if isinstance(obj, tuple | list):
            return {"list": [self.node(v, f"{path}.{i}") for i, v in enumerate(obj)]}
        if isinstance(obj, dict):
            if all(isinstance(k, str) for k in obj) and all(
                isinstance(v, int) for v in obj.values()
            ):
                keys = np.array(list(obj), dtype=str)
                values = np.fromiter(obj.values(), np.int64, len(obj))
                return {
                    "index": [self.add(f"{path}.keys", keys), self.add(f"{path}.values", values)]
                }
            return {"dict": {str(k): self.node(v, f"{path}.{k}") for k, v in obj.items()}}
        name = type(obj).__name__
        if _classes().get(name) is not type(obj):
            raise TypeError(f"{path}: objects of type {name} are not storable")
        return {
            "object": name,
            "fields": {key: self.node(value, f"{path}.{key}") for key, value in vars(obj).items()},
        }


class _Reader:
    def __init__(self, directory: Path, files: dict[str, Any], mmap: bool) -> None:
        self.directory = directory
        self.files = files
        self.mmap = mmap
        self.cache: dict[str, np.ndarray] = {}

    def fail(self, what: str) -> ArtifactError:
        return ArtifactError(f"model artifact {self.directory}: {what}")

    def array(self, name: Any) -> np.ndarray:
        if not isinstance(name, str) or name not in self.files:
            raise self.fail(f"the manifest names an unlisted array {name!r}")
        if name in self.cache:
            return self.cache[name]
        spec = self.files[name]
        path = self.directory / f"{name}.npy"
        try:
            array = np.load(path, mmap_mode="r" if self.mmap else None, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise self.fail(f"{path.name} is unreadable ({error})") from None
        if str(array.dtype) != spec.get("dtype") or list(array.shape) != spec.get("shape"):
            raise self.fail(
                f"{path.name} holds {array.dtype}{list(array.shape)}, the manifest says "
                f"{spec.get('dtype')}{spec.get('shape')}"
            )
        if not self.mmap:
            array.setflags(write=False)
        self.cache[name] = array
        return array

    def value(self, node: Any, path: str) -> Any:
        if node is None or isinstance(node, bool | int | str):
            return node
        kinds = _KINDS.intersection(node) if isinstance(node, dict) else set()
        if len(kinds) == 1:
            kind = kinds.pop()
            body = node[kind]
            if kind == "float":
                return float(body)
            if kind == "datetime64":
                return np.datetime64(body)
            if kind == "datetime":
                return dt.datetime.fromisoformat(body)
            if kind == "array":
                return self.array(body)
            if kind == "csr":
                return self.csr(body, node.get("shape"), path)
            if kind == "list" and isinstance(body, list):
                return tuple(self.value(v, f"{path}.{i}") for i, v in enumerate(body))
            if kind == "index" and isinstance(body, list) and len(body) == 2:
                keys, values = self.array(body[0]), self.array(body[1])
                if keys.shape != values.shape:
                    raise self.fail(f"{path}: index keys and values differ in length")
                return dict(zip(keys.tolist(), values.tolist(), strict=True))
            if kind == "dict" and isinstance(body, dict):
                return {k: self.value(v, f"{path}.{k}") for k, v in body.items()}
            if kind == "object" and isinstance(node.get("fields"), dict):
                return self.instance(body, node["fields"], path)
        raise self.fail(f"{path}: unknown node {str(node)[:80]!r}")

    def csr(self, names: Any, shape: Any, path: str) -> sp.csr_matrix:
        if not (isinstance(names, list) and len(names) == 3 and isinstance(shape, list)):
            raise self.fail(f"{path}: malformed sparse matrix entry")
        data, indices, indptr = (self.array(n) for n in names)
        try:
            rows, cols = (int(v) for v in shape)
            if len(indptr) != rows + 1 or len(indices) != len(data) or indptr[-1] != len(data):
                raise ValueError("inconsistent sizes")
            if len(indices) and (indices.min() < 0 or indices.max() >= cols):
                raise ValueError("column index out of range")
            if np.any(np.diff(indptr) < 0):
                raise ValueError("row pointers decrease")
            matrix = sp.csr_matrix((data, indices, indptr), shape=(rows, cols), copy=False)
        except (ValueError, TypeError) as error:
            raise self.fail(f"{path}: invalid sparse matrix ({error})") from None
        return matrix

    def instance(self, name: Any, fields: dict[str, Any], path: str) -> Any:
        cls = _classes().get(name) if isinstance(name, str) else None
        if cls is None:
            raise self.fail(f"{path}: unknown class {name!r}")
        values = {key: self.value(node, f"{path}.{key}") for key, node in fields.items()}
        if dataclasses.is_dataclass(cls):
            expected = {f.name for f in dataclasses.fields(cls)}
            if set(values) != expected:
                raise self.fail(f"{path}: fields of {name} do not match this engine")
        obj = object.__new__(cls)
        for key, value in values.items():
            object.__setattr__(obj, key, value)
        return obj


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def save(
    recommender: Recommender,
    directory: Path,
    metadata: dict[str, Any] | None = None,
    extra_arrays: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Write the serving state of a fitted `recommender` into `directory` (created; must be empty
    or absent) as .npy files plus manifest.json, written last. Returns the manifest.

    metadata: JSON values kept as manifest["metadata"]; extra_arrays: the caller's arrays (for
    example database ids aligned with the catalog), stored and checksummed like the model's.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise FileExistsError(f"{directory} is not empty")
    serving = recommender.for_serving()
    writer = _Writer()
    tree = writer.node(serving, "model")
    extra = {key: writer.add(f"extra.{key}", value) for key, value in (extra_arrays or {}).items()}
    files: dict[str, Any] = {}
    for name, array in writer.arrays.items():
        path = directory / f"{name}.npy"
        np.save(path, array, allow_pickle=False)
        files[name] = {
            "sha256": _sha256(path),
            "dtype": str(array.dtype),
            "shape": list(array.shape),
        }
    info = serving.info
    manifest = {
        "format_version": FORMAT_VERSION,
        "config": serving.config.name,
        "engine_config": json.loads(json.dumps(dataclasses.asdict(serving.config), default=str)),
        "info": json.loads(json.dumps(dataclasses.asdict(info), default=str)),
        "metadata": metadata or {},
        "tree": tree,
        "extra_arrays": extra,
        "files": files,
    }
    tmp = directory / f".{MANIFEST}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, directory / MANIFEST)
    return manifest


def read_manifest(directory: Path) -> dict[str, Any]:
    """The parsed manifest of `directory`, checked for format version; raises ArtifactError."""
    directory = Path(directory)
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ArtifactError(
            f"model artifact {directory}: {MANIFEST} is unreadable ({error})"
        ) from None
    if not isinstance(manifest, dict):
        raise ArtifactError(f"model artifact {directory}: {MANIFEST} is not an object")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ArtifactError(
            f"model artifact {directory}: format_version {version!r} is not {FORMAT_VERSION}"
        )
    if not isinstance(manifest.get("files"), dict):
        raise ArtifactError(f"model artifact {directory}: the manifest lists no files")
    return manifest


def load(directory: Path, mmap: bool = True) -> LoadedArtifact:
    """Verify and load an artifact written by `save`; raises ArtifactError naming what is wrong.

    Arrays are memory-mapped read-only when `mmap` (pages are shared with the OS file cache).
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    files: dict[str, Any] = manifest["files"]
    for name, spec in files.items():
        path = directory / f"{name}.npy"
        if not isinstance(spec, dict) or not path.is_file():
            raise ArtifactError(f"model artifact {directory}: {path.name} is missing")
        if _sha256(path) != spec.get("sha256"):
            raise ArtifactError(f"model artifact {directory}: {path.name} fails its checksum")
    reader = _Reader(directory, files, mmap)
    model = reader.value(manifest.get("tree"), "model")
    if not isinstance(model, Recommender):
        raise ArtifactError(f"model artifact {directory}: the tree is not a recommender")
    try:
        model.check()
    except ValueError as error:
        raise ArtifactError(f"model artifact {directory}: {error}") from None
    extra_names = manifest.get("extra_arrays") or {}
    if not isinstance(extra_names, dict):
        raise ArtifactError(f"model artifact {directory}: extra_arrays is not an object")
    extra = {key: reader.array(name) for key, name in extra_names.items()}
    return LoadedArtifact(model, manifest, extra)


__all__ = [
    "FORMAT_VERSION",
    "ArtifactError",
    "LoadedArtifact",
    "load",
    "read_manifest",
    "save",
]
