"""derive.core."""
