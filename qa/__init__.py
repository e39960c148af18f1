"""Retrieval question answering with exact citations.

Importing the package is cheap: the model, torch and FAISS load only when a
command or the app needs them.
"""

__version__ = "0.1.0"
