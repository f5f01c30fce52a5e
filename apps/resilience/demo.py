"""Demo data of disaster recovery (filled in below)."""
