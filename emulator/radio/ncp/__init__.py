"""The emulated EZSP NCP: what a real host stack (bellows, zigbee-herdsman's ember driver) sees.

A host connects over TCP as it would to a network-attached Silicon Labs dongle. `ash` is the
link layer (UG101's ASH: framing, CRC, randomisation, acknowledgement and retransmission);
EZSP, the commands and the TCP server sit on top of it. Nothing here decides what an emulated
device does: frames go to and come from a home's air.
"""
