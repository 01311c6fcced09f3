"""The campaign platform's domain: aggregates, their events and rules, and the application."""
