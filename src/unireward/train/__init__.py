"""unireward.train."""
