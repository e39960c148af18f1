"""Retrieval question answering with exact citations.

The package by stage, each importing only the stages before it (docs/ARCHITECTURE.md):

- foundation: `types`, `errors`, `config`, `text` (sentence and word rules),
  `storage` (durable files);
- `search`: the model, the on-disk index and retrieval;
- `ingest`: files to Documents to chunks to a saved index (uses search);
- `answer`: passages to an answer sentence, short span and confidence (uses search);
- `service`: load once, then answer (uses answer, ingest, search);
- `live`: writes and index swaps while serving; `eval`: `qa eval`;
- edges: `api` (HTTP and the chat page in `web/`) and `cli` (the `qa` command).

Importing the package is cheap: the model, torch and FAISS load only when a
command or the app needs them.
"""

__version__ = "0.1.0"
