"""The HTTP edge: the only package that imports fastapi or starlette.

`create_app` assembles the app from its parts: `schemas` (request and response models),
`errors` (the one mapping from domain errors to status codes and JSON bodies),
`routes_read` and `routes_write` (thin routes over the service and the writer),
`middleware` (read key, body limits, worker header) and `state` (the live service).
"""

from qa.api.app import create_app, create_app_from_env

__all__ = ["create_app", "create_app_from_env"]
