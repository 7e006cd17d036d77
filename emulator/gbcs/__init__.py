"""GB Companion Specification (GBCS) firmware messages and their security, sans-IO.

`der` and `frame` own the bytes (DER payloads, grouping header, signature and MAC envelope),
`messages` the CS06 / CS08 / CS09 / alert payloads, `security` the KRP signature and MAC,
`headend` the supplier / DCC side that builds commands, and `activation` the device side that
decides what to accept. Nothing in this package does I/O or reads a clock: time comes in as `now`.
"""
