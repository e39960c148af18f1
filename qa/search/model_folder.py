"""Where a model comes from and checks of its folder before loading it, and the offline
switches every load goes through.

A model setting (QA_MODEL, QA_RERANKER, QA_READER) names a local folder or a Hugging Face
model (`org/name`). A name is looked up in the standard Hugging Face cache (HF_HOME,
HF_HUB_CACHE) and, only when it is missing there and the machine may go online, fetched
into it once; the snapshot's commit is its revision. Offline, a missing name is one clear
error before any model loads. Loading itself is always from the local folder, offline.

A folder is checked by its `config.json` alone, so a wrong folder is refused in
milliseconds with a message that says what was expected, before torch loads.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.errors import ModelError

#: A Hugging Face model name: organisation and model, as `org/name`.
HUB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
#: Fetches a model into the cache and returns its snapshot folder (huggingface_hub's
#: snapshot_download by default; tests pass their own, never touching a network).
Fetch = Callable[[str], str]


@dataclass(frozen=True)
class ModelSource:
    """A model's local folder, the name it goes by, and its revision when from the hub."""

    path: Path
    name: str
    revision: str | None = None


def resolve_model(
    value: str | Path, *, setting: str, error: type[ModelError], fetch: Fetch | None = None
) -> ModelSource:
    """The folder for a model setting: an existing local folder as is, a Hugging Face name
    from the cache (fetched into it first when missing and online)."""
    text = str(value).strip()
    path = Path(text).expanduser()
    if path.is_dir() or not HUB_NAME.fullmatch(text):
        return ModelSource(path=path, name=path.name)
    folder = cached_snapshot(text)
    if folder is None:
        folder = _fetch(text, setting=setting, error=error, fetch=fetch)
    return ModelSource(path=folder, name=text, revision=folder.name)


def cached_snapshot(name: str) -> Path | None:
    """The cached snapshot of `name` that refs/main points at, or None."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(name, local_files_only=True))
    except Exception:  # LocalEntryNotFoundError and the like: not (wholly) in the cache
        return None


def hub_offline() -> bool:
    """Whether the Hugging Face hub may not be reached (HF_HUB_OFFLINE, as the hub's
    client reads it)."""
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE", "").strip().upper()
    return bool(constants.HF_HUB_OFFLINE) or flag in {"1", "ON", "YES", "TRUE"}


def _fetch(name: str, *, setting: str, error: type[ModelError], fetch: Fetch | None) -> Path:
    from huggingface_hub import constants

    cache = constants.HF_HUB_CACHE
    fix = (
        f"fetch it once on a machine that is online, into the same cache (HF_HOME or "
        f"HF_HUB_CACHE): `hf download {name}`, or point {setting} at a local model folder"
    )
    if fetch is None and hub_offline():
        raise error(
            f"{setting}={name} is not a local folder, and as a Hugging Face model name it is "
            f"not in the model cache ({cache}) while the hub may not be reached "
            f"(HF_HUB_OFFLINE is set): {fix}"
        )
    try:
        folder = Path((fetch or _download)(name))
    except Exception as exc:  # no network, no such model, a gated one: say which and how
        raise error(
            f"{setting}={name} is not a local folder, nor a Hugging Face model in the cache "
            f"({cache}), and fetching it failed ({type(exc).__name__}: {exc}): {fix}"
        ) from exc
    return folder


def _download(name: str) -> str:
    from huggingface_hub import snapshot_download

    return str(snapshot_download(name))


def check_model_folder(
    path: Path, *, setting: str, head: str, what: str, error: type[ModelError]
) -> dict[str, Any]:
    """The folder's config when it holds a transformers model whose architecture ends in
    `head` (e.g. "ForQuestionAnswering"); otherwise `error` naming `setting` and `what`."""
    path = path.expanduser()
    if not path.is_dir():
        raise error(f"{setting}={path} is not a folder: point it at a local {what} folder")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise error(
            f"{path} has no config.json, so it is not a transformers model folder: point "
            f"{setting} at a {what} saved with save_pretrained"
        )
    try:
        config: dict[str, Any] = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"cannot read {config_file}: {exc}") from exc
    if not isinstance(config, dict):
        raise error(f"{config_file} is not a JSON object: the folder is not a model")
    architectures = config.get("architectures") or []
    if not any(str(a).endswith(head) for a in architectures):
        found = ", ".join(map(str, architectures)) or "none named"
        raise error(
            f"{path} is not a {what} (its architecture is {found}, not *{head}): point "
            f"{setting} at such a model, or unset {setting}"
        )
    return config


def label_count(config: dict[str, Any]) -> int:
    """How many outputs the model's head has, as transformers reads a config: its
    `id2label`, else `num_labels`, else the default of 2."""
    return len(config.get("id2label") or {}) or int(config.get("num_labels", 2))


@dataclass(frozen=True)
class HeadSpec:
    """What a model setting must name: a model whose architecture ends in `head`, with
    `labels` outputs; `wrong_labels` says why another count is wrong ({path}, {labels})."""

    setting: str
    head: str
    what: str
    labels: int
    wrong_labels: str
    error: type[ModelError]


def checked_source(value: str | Path, spec: HeadSpec) -> ModelSource:
    """The checked folder of a model setting's value: a local folder or a hub name."""
    source = resolve_model(value, setting=spec.setting, error=spec.error)
    config = check_model_folder(
        source.path, setting=spec.setting, head=spec.head, what=spec.what, error=spec.error
    )
    labels = label_count(config)
    if labels != spec.labels:
        raise spec.error(spec.wrong_labels.format(path=source.path, labels=labels))
    return source


def go_offline() -> None:
    """Never reach a model hub, even for a model whose config names a hub repository,
    and print no load-time progress bar."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
