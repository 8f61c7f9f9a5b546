"""The pages, one module per user group."""
