"""Live: keep a running service's index current while it answers.

One job: change what a serving process answers from without a restart. `writer` adds,
replaces and deletes documents sent over HTTP (build on the version on disk, save,
swap), `corpus_mirror` keeps those documents as files in the corpus folder so that
`qa index` keeps them too, `watcher` moves a worker process to the version that
another process wrote.

It holds a `QAService` and the service loads indexes with ingest's expectations, so
this stage sits above both. May import: `qa.service`, `qa.ingest`, `qa.search`,
`qa.config`, `qa.storage`, `qa.types`, `qa.errors`. Never an edge (`qa.api`, `qa.cli`).
"""
