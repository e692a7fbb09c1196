"""The notebook widgets: the explorer and the stepper are the page's own front-end component (an
anywidget, front.py); compare and inspect are ipywidgets + plotly (everything below)."""
