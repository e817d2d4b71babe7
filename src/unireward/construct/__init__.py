"""unireward.construct."""
