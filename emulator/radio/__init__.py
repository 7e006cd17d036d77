"""Radios: the only code that moves packets between the coordinator and emulated devices.

`timeloop` runs asyncio code (zigpy) in virtual time, `virtual` is the in-process radio (a zigpy
`ControllerApplication` and the virtual air), `pcap` records what crosses the air. Nothing here
decides protocol behaviour.
"""
