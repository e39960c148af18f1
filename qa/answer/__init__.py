"""Answer: ranked passages to an answer sentence, its short span and a confidence.

One job: choose what to say and how sure to be. `selection` picks the sentence and
gives or withholds it, `short` finds the span that answers the question's type (with
the phrase rules in `phrases`), `confidence` is the calibrated model over the
answer's features, `reader` the optional extractive model. All pure but the reader.

May import: `qa.search` (passages, the model's precision, model-folder checks),
`qa.config`, `qa.text`, `qa.types`, `qa.errors`. Never ingest, the service or an edge.
"""
