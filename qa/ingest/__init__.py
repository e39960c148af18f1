"""Ingest: files to a saved index.

One job: read a corpus folder (or one uploaded file) into Documents, cut them into
chunks with exact spans, embed what changed and write a new index version. `formats/`
reads each kind of file (one module per format, in a bounded child process for
untrusted bytes), `corpus` walks the folder, `chunking` cuts, `indexing` builds and
saves, `originals` keeps the source files that citations open, `page_images` renders
a cited page, `doc_rules` says what a document sent over the API may be.

May import: `qa.search` (the model, the index it writes), `qa.config`, `qa.text`,
`qa.storage`, `qa.types`, `qa.errors`. Never the service, the answer stage or an edge.
"""
