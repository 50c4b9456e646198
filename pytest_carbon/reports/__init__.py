"""Renderers: each turns the report dict into one artefact format."""
