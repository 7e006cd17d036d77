"""An emulated device: its persisted flash and the drivers that run its OTA client."""
