"""unireward.serve: serving judges over HTTP."""
