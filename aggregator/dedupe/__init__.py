"""Dedupe: which harvested events are one real event, and what the merged event says.

``update.update_events`` runs the stage over the store: identity (exact stage, stable
ids) → matching (features → blocking → score → cluster) → merge. Everything but
``update`` is pure functions over typed rows; rendering is the publish stage's.
"""
