"""The notebook widgets: the explorer is the page's own front-end component (an anywidget, front.py);
the stepper, compare and inspect are ipywidgets + plotly (everything below)."""
