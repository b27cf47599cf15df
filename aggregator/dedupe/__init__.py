"""Dedupe: which harvested events are one real event, and what the merged event says.

identity (exact stage, stable ids, merging) → matching (candidates, score, clusters) over
features; pure functions over typed rows that the pipeline reads from and writes to the store.
"""
