"""Tests against a real Tryton server."""
