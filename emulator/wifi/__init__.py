"""The Wi-Fi firmware route (options paper: IHD option 5, PPMID option 3).

A device with its own internet connection fetches a signed manifest from an update server, checks
it, fetches the image it names and installs it (after the consumer's consent when its profile
asks for it). `manifest` is the pure part (the document, its signature, the device's verdict),
`server` the supplier's or manufacturer's HTTP server on loopback, `updater` the device's side,
`route` the glue the scenario engine and the head-end use.
"""
