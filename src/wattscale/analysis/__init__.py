"""Analysis of results: KPIs and reports."""
