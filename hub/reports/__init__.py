"""The picture of missing: dashboards, patterns, the annual report, the statutory returns, data quality."""
