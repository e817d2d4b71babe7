"""unireward.synth."""
