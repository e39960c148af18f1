"""Search: a question to ranked passages, and the on-disk index they come from.

One job: the index and everything that reads it. `embedding` is the model (the only
import of sentence-transformers), `batching` encodes concurrent questions together,
`distributed` embeds on Ray actors, `index` is one saved version (the only import of
faiss), `lexical` its BM25 half (the only import of bm25s), `sentences` its sentence
vectors, `evidence` the sentence-level evidence, `filters` the metadata filters,
`retrieval` the fusion and ranking, `rerank` the optional cross-encoder and
`model_folder` the checks of a local model folder.

May import: `qa.config`, `qa.text`, `qa.storage`, `qa.types`, `qa.errors`. Nothing of
the other stages: ingest and answer build on search, not the other way round.
"""
