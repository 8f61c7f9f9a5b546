"""Webhook building blocks: the CloudEvents envelope, Standard Webhooks signing, safe egress.

The release service's subscriptions, outbox and dispatcher are built on these; receivers'
side of the contract is docs/webhook-receivers.md.
"""
