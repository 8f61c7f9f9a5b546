"""TEMPORARY while the split lands: see identity_directory, identity_api, identity_errors."""

from services.release.identity_api import IdentityApi, PersonInfo
from services.release.identity_directory import IdentityDirectory
from services.release.identity_errors import IdentityUnavailable

__all__ = ["IdentityApi", "IdentityDirectory", "IdentityUnavailable", "PersonInfo"]
