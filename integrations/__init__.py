"""Adapters between assets-core and outside libraries; each is imported only when used."""
