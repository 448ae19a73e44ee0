"""Definitions of the ml_pipeline example: ingest -> features -> train -> evaluate -> publish.

Each module holds one step; ``pyproject.toml`` lists them. The model is published
only when its evaluation clears the bar set in ``publish.py``.
"""
