"""derive.verification."""
