"""derive.backprop."""
