"""unireward.bench."""
