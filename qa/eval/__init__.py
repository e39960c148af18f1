"""Eval: how good the answers are, measured on question sets (`qa eval`).

One job: measure. `questionsets` loads SQuAD 2.0 JSON and JSONL sets and splits them
into dev and test halves, `report` holds relevance, the retrieval metrics and the
table, `scoring` the answer-quality metrics (SQuAD EM and F1, calibration, AUROC, the
abstention trade-off), `runner` builds or loads an index and asks every question
through the service.

May import: `qa.service`, `qa.answer`, `qa.ingest`, `qa.search`, `qa.config`,
`qa.types`, `qa.errors`. Nothing imports eval but the `qa` command.
"""
