"""A party's exposure, the identity half: its people by role, its keys and API clients."""
