"""Rendering: the report page and the bisect page, from what judging computed."""
