"""Adapters: the environ mapping, the mod_wsgi hook, the WSGI middleware."""
