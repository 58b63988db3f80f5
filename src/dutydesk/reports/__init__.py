"""Reports: KPIs computed in the database, their API and CSV, metrics, the weekly summary."""
