"""The constructs of the compute layer (``compute.py`` composes them): each takes resources
and plain values, never the service's configuration."""
