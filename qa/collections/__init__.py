"""Collections: several corpora behind one service, each with its own keys and feedback.

`config` reads and checks the collections file (`qa serve --collections FILE`); `feedback`
keeps the thumbs up and down on answers, durably, beside each index. Neither knows about
HTTP and nothing of the answering pipeline.

May import: `qa.errors`, `qa.config`, `qa.storage` (and pyyaml, sqlite3). Imported only by
the edges: `qa.api`, `qa.eval` (the export of unhelpful questions) and `qa.cli`.
"""
