"""The notebook widgets: the explorer, the stepper, compare and inspect are the page's own
front-end component (an anywidget, front.py); a compare drawn with Gumbel noise keeps plotly columns."""
