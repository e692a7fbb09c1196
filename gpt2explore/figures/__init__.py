"""plotly figures rendered from the views, with one look (below: core, model, views, files)."""
