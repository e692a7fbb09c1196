"""Files: run bundles, exports with provenance, tables, and pages with their front end (assets/: the one
component that a saved page and the live explorer share) (below: core, model, views)."""
