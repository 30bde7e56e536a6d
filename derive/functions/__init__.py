"""derive.functions."""
