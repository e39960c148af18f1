"""The HTTP edge: the only package that imports fastapi or starlette.

`create_app` assembles the app from its parts: `schemas` (request and response models),
`errors` (the one mapping from domain errors to status codes and JSON bodies),
`routes_read`, `routes_write` and `routes_files` (thin routes over the service and the
writer), `middleware` (read key, body limits, worker header), `security` (the API key
rules) and `state` (the live service).

May import every stage below it (`qa.live`, `qa.service`, `qa.answer`, `qa.ingest`,
`qa.search`) and the foundation; never `qa.cli` or `qa.eval`.
"""

from qa.api.app import create_app, create_app_from_env

__all__ = ["create_app", "create_app_from_env"]
