"""The data and its arithmetic: settings, the sampling stages, the draw, Run/Sample/Step, token display, number formats (torch only)."""
