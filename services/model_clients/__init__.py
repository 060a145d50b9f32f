"""Model clients: one port (`ModelClient`) and its implementations."""
