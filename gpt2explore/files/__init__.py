"""Files: run bundles, exports with provenance, tables (below: core, model, views)."""
