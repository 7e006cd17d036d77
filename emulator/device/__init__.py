"""An emulated device: its persisted flash and the drivers that run its OTA client.

This package owns the parts of a device that touch storage or schedule time; the protocol
decisions stay in `emulator.ota` and must never move here.
"""
