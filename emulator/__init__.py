"""hanemu: emulated GB smart-metering HAN devices as Zigbee Smart Energy OTA Upgrade clients."""

__version__ = "0.1.0"
