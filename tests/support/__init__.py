"""Helpers the template's tests share; fixtures and pytest hooks stay in tests/conftest.py."""
