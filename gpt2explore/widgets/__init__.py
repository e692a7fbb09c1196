"""ipywidgets + plotly: the explorer, the stepper, compare, inspect (everything below)."""
