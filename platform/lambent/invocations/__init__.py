"""The invocation ledger: one row per invocation, whatever path it took."""
