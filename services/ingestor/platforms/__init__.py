"""Webhook platforms: per platform its signature check, its reader and its ``PlatformAdapter``
(``registry`` builds them from the configured keys)."""
