"""The frame-size model: what one unfragmented IEEE 802.15.4 frame can carry on a Zigbee PRO HAN.

An 802.15.4 PHY frame carries at most 127 octets (aMaxPHYPacketSize, the PSDU); the 6 octets
before it (SHR: preamble 4 + SFD 1; PHR: length 1) are on the air but not counted in it. Around an
APS payload (a ZCL or ZDO frame) every layer adds octets:

    MAC header  9   frame control 2, sequence 1, destination PAN 2, destination short address 2,
                    source short address 2 (PAN ID compression: no source PAN)
    MAC FCS     2
    NWK header  8   frame control 2, destination 2, source 2, radius 1, sequence 1
    NWK security 18 auxiliary header 14 (security control 1, frame counter 4, source IEEE
                    address 8, key sequence number 1; Zigbee PRO always secures the NWK layer
                    and always sends the extended nonce there) + MIC 4
    APS header  8   frame control 1, destination endpoint 1, cluster 2, profile 2, source
                    endpoint 1, APS counter 1
    APS security 9  when the frame is APS-encrypted with a link key (Smart Energy): auxiliary
                    header 5 (security control 1, frame counter 4) + MIC 4; 17 when the
                    auxiliary header also carries the extended nonce (source IEEE address 8)

    127 - (11 + 8 + 18 + 8)     = 82  largest APS payload with NWK security only
    82 - 9                      = 73  ... APS-encrypted (GB HAN devices: Smart Energy 0x0109)
    82 - 17                     = 65  ... APS-encrypted, extended nonce in the APS header

An Image Block Response spends 3 octets on the ZCL header (frame control 1, sequence 1, command
1) and 14 on its fixed fields (status 1, manufacturer code 2, image type 2, file version 4, file
offset 4, data size 1) before its data, so the largest block one frame holds is

    82 - 3 - 14 = 65 (NWK security only), 73 - 17 = 56 (APS-encrypted), 65 - 17 = 48 (with the
    extended nonce).

A frame that does not fit is refused (`refusal`, the one rule every air applies), except a
unicast SE Tunneling message: GBCS commands are far longer than one frame, and APS fragmentation
splits them into frames of at most 73 - 2 octets of message each (a 2-octet fragment header:
extended frame control 1, block number 1).

The figures agree with public sources: EmberZNet's application framework config.h sets
EMBER_AF_MAXIMUM_APS_PAYLOAD_LENGTH to 82 with security and 100 without (100 - 82 = the 18 octets
of NWK security), EMBER_AF_APS_ENCRYPTION_OVERHEAD to 9 ("security = 5, MIC = 4") and
EMBER_AF_ZCL_OVERHEAD to 3; its ota-server-policy.c serves maxApsPayload - (3 + 14) octets with
APS encryption under a Smart Energy security profile (82 - 9 - 17 = 56). zigbee-herdsman's ember
adapter (consts.ts) repeats MAXIMUM_APS_PAYLOAD_LENGTH 82 and APS_ENCRYPTION_OVERHEAD 9. bellows
declares EZSP maximumPayloadLength (frame 0x33, apsLength: "the size depends on the security level
in use", Silicon Labs' EZSP reference) but does not ask it; zigpy caps blocks at 50 instead.

This module owns that arithmetic and the wording of a refusal; it never moves a frame and never
reads a profile (callers hand it a `Security`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

PHY_MAX_PSDU = 127
"""aMaxPHYPacketSize: octets a 2.4 GHz 802.15.4 PHY frame may carry (MAC header to FCS)."""
PHY_HEADER = 6
"""SHR (preamble 4, SFD 1) and PHR (frame length 1): on the air, outside the 127."""
MAC_HEADER = 9
"""Frame control 2, sequence 1, destination PAN 2, destination and source short addresses 2 + 2
(PAN ID compression)."""
MAC_FCS = 2
NWK_HEADER = 8
"""Frame control 2, destination 2, source 2, radius 1, sequence 1 (no IEEE addresses, no source
route, no multicast control)."""
NWK_AUX_HEADER = 14
"""Security control 1, frame counter 4, source IEEE address 8 (extended nonce), key sequence 1."""
NWK_MIC = 4
APS_HEADER = 8
"""Frame control 1, destination endpoint 1, cluster 2, profile 2, source endpoint 1, counter 1."""
APS_AUX_HEADER = 5
"""Security control 1, frame counter 4 (a link key: no key sequence number)."""
APS_EXTENDED_NONCE = 8
"""The source IEEE address, when the APS auxiliary header carries the extended nonce."""
APS_MIC = 4
APS_FRAGMENTATION_HEADER = 2
"""Extended frame control 1, block number 1: what each fragment of a fragmented message adds."""
ZCL_HEADER = 3
"""Frame control 1, sequence 1, command 1."""
ZCL_MANUFACTURER_CODE = 2
"""Added to the ZCL header by a manufacturer-specific frame."""
IMAGE_BLOCK_RESPONSE_FIELDS = 14
"""Status 1, manufacturer code 2, image type 2, file version 4, file offset 4, data size 1."""

ZDO_PROFILE = 0x0000
SMART_ENERGY_PROFILE = 0x0109
KEY_ESTABLISHMENT_CLUSTER = 0x0800
"""Sets up the link key, so it cannot be APS-encrypted with it."""
TUNNELING_CLUSTER = 0x0704
FRAGMENTED_CLUSTERS = frozenset({TUNNELING_CLUSTER})
"""Clusters whose unicast messages may span several frames (APS fragmentation): SE Tunneling,
which carries GBCS messages far longer than one frame. Every other frame, OTA's included, must
fit one."""


@dataclass(frozen=True, slots=True)
class Security:
    """How a device's unicast Smart Energy frames are secured (NWK security is always on)."""

    aps_encryption: bool = True
    """APS-encrypt with the link key (Smart Energy devices do; GB HAN devices are SE devices)."""
    aps_extended_nonce: bool = False
    """The APS auxiliary header carries the sender's IEEE address."""

    def __str__(self) -> str:
        if not self.aps_encryption:
            return "NWK security only"
        if self.aps_extended_nonce:
            return "APS encryption with extended nonce"
        return "APS encryption"


OVERSIZE_EVENT = "oversize-frame"
"""The device event an air records for a frame it refused (with the `oversize` reason)."""

SMART_ENERGY = Security()
"""A GB HAN device: APS-encrypted Smart Energy frames, no APS extended nonce."""
NWK_ONLY = Security(aps_encryption=False)
"""ZDO frames, broadcasts, Key Establishment, and devices without APS encryption."""


@dataclass(frozen=True, slots=True)
class Layers:
    """Octets each layer adds around an APS payload in one PHY frame (the PSDU)."""

    mac: int
    nwk: int
    nwk_security: int
    aps: int
    aps_security: int

    @property
    def total(self) -> int:
        return self.mac + self.nwk + self.nwk_security + self.aps + self.aps_security


@functools.cache  # four possible arguments; every frame on either air asks
def layers(security: Security) -> Layers:
    """The octets around an APS payload sent with `security`."""
    aps_security = 0
    if security.aps_encryption:
        aps_security = APS_AUX_HEADER + APS_MIC
        if security.aps_extended_nonce:
            aps_security += APS_EXTENDED_NONCE
    return Layers(
        mac=MAC_HEADER + MAC_FCS,
        nwk=NWK_HEADER,
        nwk_security=NWK_AUX_HEADER + NWK_MIC,
        aps=APS_HEADER,
        aps_security=aps_security,
    )


def max_aps_payload(security: Security) -> int:
    """The largest APS payload one frame holds (82 with NWK security only, 73 APS-encrypted)."""
    return PHY_MAX_PSDU - layers(security).total


def max_block_data(security: Security) -> int:
    """The largest Image Block Response data one frame holds (65, 56 APS-encrypted, 48 with the
    extended nonce): the client's MaximumDataSize and the server's block cap by default."""
    return max_aps_payload(security) - ZCL_HEADER - IMAGE_BLOCK_RESPONSE_FIELDS


DEFAULT_MAX_BLOCK_DATA = max_block_data(SMART_ENERGY)
"""56: the default MaximumDataSize and server block cap of a GB HAN (APS-encrypted SE) device."""


def psdu_octets(aps_payload: int, security: Security) -> int:
    """Octets of the PHY frame (MAC header to FCS) carrying `aps_payload` octets."""
    return layers(security).total + aps_payload


def frames(aps_payload: int, security: Security, *, fragmented: bool = False) -> tuple[int, int]:
    """(PSDU octets of each frame, frames) carrying `aps_payload` octets: one frame, or, with
    `fragmented` and a payload one frame does not hold, as many frames as APS fragmentation
    needs, each with its 2-octet fragmentation header and an even share of the payload."""
    headers = layers(security).total
    if not fragmented or headers + aps_payload <= PHY_MAX_PSDU:
        return headers + aps_payload, 1
    room = max_aps_payload(security) - APS_FRAGMENTATION_HEADER
    count = -(-aps_payload // room)
    return headers + APS_FRAGMENTATION_HEADER + -(-aps_payload // count), count


def zcl_header_length(data: bytes) -> int:
    """Octets of the ZCL header at the start of `data` (5 for a manufacturer-specific frame)."""
    if data and data[0] & 0x04:
        return ZCL_HEADER + ZCL_MANUFACTURER_CODE
    return ZCL_HEADER


def frame_security(
    device: Security, *, profile_id: int | None, cluster_id: int, unicast: bool
) -> Security:
    """The security one frame carries: a device's unicast Smart Energy frames as the device is
    configured; ZDO frames, other profiles, broadcasts and Key Establishment NWK security only."""
    if (
        device.aps_encryption
        and unicast
        and profile_id == SMART_ENERGY_PROFILE
        and cluster_id != KEY_ESTABLISHMENT_CLUSTER
    ):
        return device
    return NWK_ONLY


def oversize(data: bytes, security: Security, *, zcl: bool = True) -> str | None:
    """Why the frame carrying APS payload `data` cannot be sent unfragmented, or None when it
    fits: e.g. "frame of 135 octets exceeds the 127-octet 802.15.4 PHY limit (MAC 11 + NWK 8 +
    NWK security 18 + APS 8 + APS security 9 + ZCL 3 + payload 78)"."""
    size = psdu_octets(len(data), security)
    if size <= PHY_MAX_PSDU:
        return None
    each = layers(security)
    zcl_header = min(zcl_header_length(data), len(data)) if zcl else 0
    parts = [
        f"MAC {each.mac}",
        f"NWK {each.nwk}",
        f"NWK security {each.nwk_security}",
        f"APS {each.aps}",
    ]
    if each.aps_security:
        parts.append(f"APS security {each.aps_security}")
    if zcl_header:
        parts.append(f"ZCL {zcl_header}")
    parts.append(f"payload {len(data) - zcl_header}")
    return (
        f"frame of {size} octets exceeds the {PHY_MAX_PSDU}-octet 802.15.4 PHY limit "
        f"({' + '.join(parts)})"
    )


def refusal(
    data: bytes, device: Security, *, profile_id: int | None, cluster_id: int, unicast: bool
) -> str | None:
    """The one frame-size rule of every air: why the frame carrying APS payload `data` (from or
    to a device secured as `device`) is not sent, or None when it may be. A unicast message of
    a cluster that uses APS fragmentation is never refused; any other frame whose PSDU would be
    over 127 octets is."""
    if unicast and cluster_id in FRAGMENTED_CLUSTERS:
        return None
    security = frame_security(device, profile_id=profile_id, cluster_id=cluster_id, unicast=unicast)
    return oversize(data, security, zcl=profile_id != ZDO_PROFILE)


def room(device: Security, *, profile_id: int | None, cluster_id: int, unicast: bool) -> float:
    """The longest APS payload `refusal` lets through for such frames (`math.inf`: any): a frame
    is refused exactly when its payload is longer, so an air may check lengths against this once
    per device and cluster and ask `refusal` only for the reason."""
    if unicast and cluster_id in FRAGMENTED_CLUSTERS:
        return math.inf
    security = frame_security(device, profile_id=profile_id, cluster_id=cluster_id, unicast=unicast)
    return max_aps_payload(security)


def block_data_problem(value: int, security: Security) -> str | None:
    """What is wrong with `value` as a block data size for a device with `security`, or None
    when an Image Block Response carrying that many octets fits one frame."""
    most = max_block_data(security)
    if value <= most:
        return None
    return (
        f"{value} octets of block data cannot fit one unfragmented {PHY_MAX_PSDU}-octet 802.15.4 "
        f"frame with {security} (at most {most})"
    )
