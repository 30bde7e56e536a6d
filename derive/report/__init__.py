"""derive.report.build."""
