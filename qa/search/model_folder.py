"""Checks of a local transformers model folder before loading it (the optional reranker and
reader), and the offline switches every load goes through.

A folder is checked by its `config.json` alone, so a wrong folder is refused in
milliseconds with a message that says what was expected, before torch loads.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from qa.errors import ModelError


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


def go_offline() -> None:
    """Never reach a model hub, even for a model whose config names a hub repository,
    and print no load-time progress bar."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
