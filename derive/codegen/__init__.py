"""derive.codegen.kernel."""
