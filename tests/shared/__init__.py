"""Tests of the shared package: JOSE, the transparency and audit logs, caches, codecs."""
