"""The collections file: which corpora one service serves, and who may read and write each.

```yaml
collections:
  handbook:
    corpus: /data/handbook          # relative paths are taken from the file's folder
    index: /data/index/handbook
    read_keys: [{env: HANDBOOK_READ_KEY}]   # absent: anyone may read
    write_keys: ["env:HANDBOOK_WRITE_KEY"]  # absent: no writes over HTTP
```

A key is written as itself, as `{env: NAME}` or as the string `"env:NAME"`: the value of
the environment variable NAME when the file is read (so the file can live in git without a
secret). Everything is checked strictly, and every problem names the entry it is in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

import yaml

from qa.config import Settings
from qa.errors import ConfigError, UsageError

#: A collection's name is a path segment of its routes: letters, digits, '-' and '_'.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
FIELDS = frozenset({"corpus", "index", "read_keys", "write_keys"})
ENV_PREFIX = "env:"


class Access(IntEnum):
    """What a key may do in one collection; each level includes the ones below."""

    NONE = 0
    READ = 1
    WRITE = 2


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


@dataclass(frozen=True)
class Collection:
    """One collection. Keys are kept as SHA-256 digests only: never printed, logged or
    compared by their text."""

    name: str
    corpus_dir: Path
    index_dir: Path
    public: bool
    read_digests: tuple[bytes, ...] = field(default=(), repr=False)
    write_digests: tuple[bytes, ...] = field(default=(), repr=False)

    @property
    def writable(self) -> bool:
        return bool(self.write_digests)

    def access(self, token: str | None) -> Access:
        """What `token` may do here. Every key is compared, in constant time, whatever
        matches first: the time taken says nothing about which key (or whether one) did."""
        presented = _digest(token or "")
        writes = _matches(presented, self.write_digests) and token is not None
        reads = _matches(presented, self.read_digests) and token is not None
        if writes:
            return Access.WRITE
        if reads or self.public:
            return Access.READ
        return Access.NONE


def _matches(presented: bytes, digests: tuple[bytes, ...]) -> bool:
    found = False
    for digest in digests:
        found |= hmac.compare_digest(presented, digest)
    return found


@dataclass(frozen=True)
class Collections:
    """The collections of one file, in its order."""

    source: Path
    by_name: Mapping[str, Collection]

    def __iter__(self) -> Iterator[Collection]:
        return iter(self.by_name.values())

    def __len__(self) -> int:
        return len(self.by_name)

    def get(self, name: str) -> Collection | None:
        return self.by_name.get(name)

    def select(self, name: str | None) -> list[Collection]:
        """All collections, or the one named (a clear error for a name not in the file)."""
        if name is None:
            return list(self)
        found = self.get(name)
        if found is None:
            known = ", ".join(self.by_name) or "none"
            raise ConfigError(f"{self.source}: no collection named {name!r} (it has: {known})")
        return [found]


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys silently; a collections file must not."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ConfigError(f"{key!r} appears twice (line {key_node.start_mark.line + 1})")
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _unique_mapping,
)


def load_collections(path: Path, environ: Mapping[str, str]) -> Collections:
    """Read and check the collections file; `environ` resolves the keys given by reference.
    Raises ConfigError naming the file and the entry at fault."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the collections file {path}: {exc}") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a safe loader
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.message}") from None
    except yaml.YAMLError as exc:
        # Only the problem and where: the parser's own message quotes the line, key and all.
        raise ConfigError(f"{path} is not valid YAML: {_yaml_problem(exc)}") from None
    return parse_collections(data, source=path, environ=environ)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "cannot parse it"
    where = "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"
    return f"{problem}{where}"


def parse_collections(data: Any, *, source: Path, environ: Mapping[str, str]) -> Collections:
    if not isinstance(data, dict) or set(data) != {"collections"}:
        raise ConfigError(f"{source}: expected one top-level key, 'collections', holding a mapping")
    entries = data["collections"]
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f"{source}: 'collections' must map at least one name to its settings")
    base = source.parent
    found: dict[str, Collection] = {}
    indexes: dict[Path, str] = {}
    for name, entry in entries.items():
        collection = _collection(name, entry, base=base, environ=environ, source=source)
        other = indexes.get(collection.index_dir)
        if other is not None:
            raise ConfigError(
                f"{source}: collections {other!r} and {name!r} have the same index folder "
                f"{collection.index_dir}: give each its own"
            )
        indexes[collection.index_dir] = name
        found[name] = collection
    return Collections(source=source, by_name=found)


def _collection(
    name: Any, entry: Any, *, base: Path, environ: Mapping[str, str], source: Path
) -> Collection:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"{source}: collection name {name!r}: use 1-64 letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    where = f"{source}: collection {name!r}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping with 'corpus' and 'index'")
    unknown = sorted(str(k) for k in set(entry) - FIELDS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown field(s) {', '.join(unknown)} (allowed: {', '.join(sorted(FIELDS))})"
        )
    corpus, index = (_folder(entry, f, where=where, base=base) for f in ("corpus", "index"))
    reads = _keys(entry, "read_keys", where=where, environ=environ)
    writes = _keys(entry, "write_keys", where=where, environ=environ)
    return Collection(
        name=name,
        corpus_dir=corpus,
        index_dir=index,
        public=reads is None,
        read_digests=tuple(_digest(k) for k in reads or ()),
        write_digests=tuple(_digest(k) for k in writes or ()),
    )


def _folder(entry: dict[str, Any], field_name: str, *, where: str, base: Path) -> Path:
    value = entry.get(field_name)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: '{field_name}' is missing: give the folder's path")
    path = Path(value).expanduser()
    return (path if path.is_absolute() else base / path).resolve()


def _keys(
    entry: dict[str, Any], field_name: str, *, where: str, environ: Mapping[str, str]
) -> list[str] | None:
    if field_name not in entry:
        return None
    values = entry[field_name]
    if not isinstance(values, list) or not values:
        raise ConfigError(
            f"{where}: '{field_name}' must be a non-empty list of keys (leave it out for "
            + ("anyone to read)" if field_name == "read_keys" else "no writes over HTTP)")
        )
    return [
        _key(v, where=f"{where}: {field_name}[{i}]", environ=environ) for i, v in enumerate(values)
    ]


def _key(value: Any, *, where: str, environ: Mapping[str, str]) -> str:
    variable: str | None = None
    if isinstance(value, dict):
        if set(value) != {"env"} or not isinstance(value["env"], str):
            raise ConfigError(f'{where}: write a key as a string, {{env: NAME}} or "env:NAME"')
        variable = value["env"]
    elif isinstance(value, str) and value.startswith(ENV_PREFIX):
        variable = value[len(ENV_PREFIX) :]
    elif not isinstance(value, str):
        raise ConfigError(f'{where}: write a key as a string, {{env: NAME}} or "env:NAME"')
    if variable is not None:
        variable = variable.strip()
        if not variable:
            raise ConfigError(f"{where}: name the environment variable that holds the key")
        value = environ.get(variable, "")
        if not value.strip():
            raise ConfigError(f"{where}: the environment variable {variable} is not set or empty")
    if not value.strip():
        raise ConfigError(f"{where}: a key must not be empty")
    if value != value.strip() or any(c.isspace() for c in value):
        raise ConfigError(f"{where}: a key must not contain white space")
    return str(value)


def settings_per_collection(
    settings: Settings, name: str | None, environ: Mapping[str, str]
) -> list[tuple[str | None, Settings]]:
    """`settings` for each collection of its file (only `name`'s, when given), each with
    the collection's corpus and index folders; without a file, `settings` alone."""
    if settings.collections is None:
        if name is not None:
            raise UsageError("--collection needs a collections file: give --collections FILE")
        return [(None, settings)]
    found = load_collections(settings.collections, environ).select(name)
    return [(c.name, collection_settings(settings, c)) for c in found]


def collection_settings(settings: Settings, collection: Collection) -> Settings:
    """The server's settings with this collection's folders (and no server-wide key)."""
    return settings.model_copy(
        update={
            "corpus_dir": collection.corpus_dir,
            "index_dir": collection.index_dir,
            "api_key": None,
            "require_key_for_reads": False,
        }
    )
