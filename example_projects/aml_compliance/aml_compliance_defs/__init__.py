"""Definitions of the aml_compliance example.

``sources``, ``staging``, ``flags``, ``cases`` and ``report`` declare the assets
and their checks (they are the modules listed in ``pyproject.toml``); ``rules``
and ``screening`` are plain helper modules the assets call, fingerprinted as
part of each caller's code version.
"""
