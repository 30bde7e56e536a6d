"""derive.graph.staged."""
