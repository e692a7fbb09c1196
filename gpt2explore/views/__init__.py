"""What each figure and page shows, as plain data built by pure functions (core + model data)."""
