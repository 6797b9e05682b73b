"""fleet: the platform team's view and batch update of every service rendered from the
template. `uv run fleet --help` in the template's checkout."""
