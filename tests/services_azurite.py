"""Azurite fixtures (storage emulator from the npm registry)."""
