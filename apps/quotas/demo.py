"""Demo quotas: filled in a later step."""
