"""Read models built from the store's events, each with its position kept beside its rows."""
