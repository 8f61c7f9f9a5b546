"""Yearly figures of the release service that port security can publish."""
