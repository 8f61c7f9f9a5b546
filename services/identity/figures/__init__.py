"""Yearly figures of the identity service that port security can publish."""
