"""Errors that cross layer boundaries."""


class LLMTwinError(Exception):
    """Base of the project's own errors."""


class ConfigError(LLMTwinError):
    """A pipeline config is invalid; the message names the key."""


class ImproperlyConfigured(LLMTwinError):
    """A setting or service the run needs is missing; the message names the fix."""
