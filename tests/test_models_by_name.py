"""QA_MODEL, QA_RERANKER and QA_READER by Hugging Face name: found in a model cache that
each test makes (laid out as the hub's client lays it out), never downloaded."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa.config import Settings
from qa.errors import ModelError, ReaderError, RerankerError
from qa.search.embedding import resolve_model_source
from qa.search.model_folder import resolve_model
from qa.service import QAService, check_models
from tests.conftest import FakeEmbedder, run_qa, tiny_bert_config

REVISION = "0123456789abcdef0123456789abcdef01234567"
NAME = "tinyorg/tiny-minilm"


def lay_out(cache: Path, name: str, files: dict[str, str], revision: str = REVISION) -> Path:
    """A model in the hub cache's layout: models--org--name/{refs/main,snapshots/<rev>/}."""
    repo = cache / ("models--" + name.replace("/", "--"))
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    for file, text in files.items():
        (snapshot / file).write_text(text, encoding="utf-8")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision, encoding="utf-8")
    return snapshot


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty model cache, offline, for this process and the `qa` processes it starts."""
    from huggingface_hub import constants

    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))  # read once, at import
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def test_a_cached_name_resolves_to_its_snapshot_and_revision(hub_cache: Path) -> None:
    snapshot = lay_out(hub_cache, NAME, {"config.json": "{}", "modules.json": "[]"})
    source = resolve_model_source(NAME)
    assert (source.path, source.name, source.revision) == (snapshot, NAME, REVISION)


@pytest.mark.parametrize(
    ("field", "setting", "error"),
    [
        ("model", "QA_MODEL", ModelError),
        ("reranker", "QA_RERANKER", RerankerError),
        ("reader", "QA_READER", ReaderError),
    ],
)
def test_offline_a_missing_name_is_one_clear_error(
    hub_cache: Path, field: str, setting: str, error: type[ModelError]
) -> None:
    with pytest.raises(error) as caught:
        check_models(Settings(**{field: "someorg/not-cached"}))
    message = caught.value.message
    assert f"{setting}=someorg/not-cached" in message
    assert "hf download someorg/not-cached" in message and "HF_HUB_OFFLINE" in message
    assert str(hub_cache) in message and "local model folder" in message


def test_online_a_missing_name_is_fetched_once_then_found_in_the_cache(
    hub_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    fetched: list[str] = []

    def fetch(name: str) -> str:  # what snapshot_download leaves behind, without a network
        fetched.append(name)
        return str(lay_out(hub_cache, name, {"config.json": "{}"}))

    first = resolve_model(NAME, setting="QA_MODEL", error=ModelError, fetch=fetch)
    again = resolve_model(NAME, setting="QA_MODEL", error=ModelError, fetch=fetch)
    assert fetched == [NAME]
    assert first == again and first.revision == REVISION


def test_a_failed_fetch_says_which_model_and_why(
    hub_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fetch(name: str) -> str:
        raise ConnectionError("no route to host")

    with pytest.raises(ReaderError, match=r"QA_READER=org/reader .*no route to host.*hf download"):
        resolve_model("org/reader", setting="QA_READER", error=ReaderError, fetch=fetch)


def test_a_local_folder_wins_over_a_name_of_the_same_shape(
    hub_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "models" / "reader").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    source = resolve_model("models/reader", setting="QA_READER", error=ReaderError)
    assert source.path == Path("models/reader") and source.revision is None


def test_the_service_refuses_a_missing_name_before_loading_any_model(
    hub_cache: Path, fake_settings: Settings
) -> None:
    loaded: list[Settings] = []

    def factory(settings: Settings) -> FakeEmbedder:
        loaded.append(settings)
        return FakeEmbedder()

    settings = fake_settings.model_copy(update={"reader": Path("someorg/squad-reader")})
    with pytest.raises(ReaderError, match="someorg/squad-reader"):
        QAService.from_settings(settings, embedder_factory=factory)
    assert loaded == []


def test_nothing_heavy_loads_before_the_error(hub_cache: Path) -> None:
    code = (
        "import json, sys\n"
        "from qa.search.embedding import SentenceTransformerEmbedder\n"
        "from qa.errors import ModelError\n"
        "try:\n"
        "    SentenceTransformerEmbedder('someorg/not-cached')\n"
        "except ModelError as exc:\n"
        "    print(json.dumps([exc.message, sorted(m for m in ('torch', 'transformers',"
        " 'sentence_transformers') if m in sys.modules)]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    message, heavy = json.loads(out.stdout)
    assert "QA_MODEL=someorg/not-cached" in message and heavy == []


# ----- a real tiny sentence-transformers model, loaded by name --------------------------------


def save_tiny_model(folder: Path, work: Path) -> None:
    """A 2-layer BERT with a WordPiece vocabulary and mean pooling, saved as
    sentence-transformers saves a model."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertModel, BertTokenizerFast

    words = "denmark leads the training mission in iraq lithuania sends troops who which".split()
    bert = work / "bert"
    bert.mkdir(parents=True)
    (bert / "vocab.txt").write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, ".", "?"]) + "\n"
    )
    tokenizer = BertTokenizerFast(vocab_file=str(bert / "vocab.txt"))
    torch.manual_seed(0)
    BertModel(tiny_bert_config(tokenizer.vocab_size)).save_pretrained(bert)
    tokenizer.save_pretrained(bert)
    word = Transformer(str(bert), max_seq_length=256)
    pooling = Pooling(word.get_embedding_dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[word, pooling], device="cpu").save(str(folder))


@pytest.mark.slow
def test_a_model_named_by_hub_name_indexes_and_answers_with_its_revision(
    hub_cache: Path, tmp_path: Path
) -> None:
    snapshot = lay_out(hub_cache, NAME, {})
    save_tiny_model(snapshot, tmp_path)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("Denmark leads the training mission in Iraq.\n")
    (corpus / "b.md").write_text("Lithuania sends troops.\n")
    env = {"QA_MODEL": NAME, "QA_PRECISION": "fp32"}
    index = tmp_path / "index"
    built = run_qa("index", "--corpus", str(corpus), "--index", str(index), "--quiet", env=env)
    assert built.returncode == 0, built.stderr
    current = (index / "CURRENT").read_text().strip()
    model = json.loads((index / current / "manifest.json").read_text())["model"]
    assert model["name"] == NAME and model["revision"] == REVISION
    assert model["dimension"] == 32
    asked = run_qa("ask", "Who leads the mission?", "--index", str(index), "--json", env=env)
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["passages"][0]["doc_id"] in {"a.md", "b.md"}
    # A new revision of the name, even with the same weights, is another model: the index
    # built with the old one says so rather than answer with mixed vectors.
    newer = "f" * 40
    shutil.copytree(snapshot, snapshot.parent / newer)
    (snapshot.parents[1] / "refs" / "main").write_text(newer)
    mismatch = run_qa("ask", "Who?", "--index", str(index), env=env)
    assert mismatch.returncode == 1
    assert f"revision: index has {REVISION!r}, configured {newer!r}" in mismatch.stderr


@pytest.mark.slow
def test_serve_with_a_missing_name_fails_at_once_with_one_line(
    hub_cache: Path, fake_settings: Settings
) -> None:
    env = {"QA_READER": "someorg/not-cached", "QA_INDEX_DIR": str(fake_settings.index_dir)}
    result = run_qa("serve", "--port", "1", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("qa: error: QA_READER=someorg/not-cached")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
