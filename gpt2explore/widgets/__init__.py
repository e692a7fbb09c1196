"""The notebook widgets: the explorer, the stepper, compare and inspect are the page's own
front-end component (an anywidget, front.py); a run drawn with Gumbel noise too (the kernel says
what its noise draws)."""
