"""Fixtures that run the bms_local Event Hubs emulator."""
