"""The model: loading, generation, sessions, scoring, the logit lens, verification (core + transformers)."""
