"""Private Apache instances: configuration, start, stop (secfilter serve)."""
