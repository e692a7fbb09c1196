"""The notebook widgets: the explorer, the stepper and inspect are the page's own front-end
component (an anywidget, front.py); compare is ipywidgets + plotly."""
