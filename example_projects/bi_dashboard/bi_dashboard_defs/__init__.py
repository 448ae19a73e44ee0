"""Definitions of the bi_dashboard example.

``sources``, ``staging`` and ``marts`` declare the assets (they are the modules
listed in ``pyproject.toml``); ``fx`` and ``attribution`` are plain helper
modules the assets call, fingerprinted as part of each caller's code version.
"""
