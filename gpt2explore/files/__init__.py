"""Files: run bundles, exports with provenance, tables, and pages (the HTML around the one front
end, gpt2explore.frontend) (below: core, model, views, frontend)."""
