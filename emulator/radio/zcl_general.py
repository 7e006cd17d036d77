"""An emulated device's ZCL attributes and the general commands that reach them.

A real device answers the ZCL foundation ("general") commands on every cluster it declares, not
only on the one it cares about; a coordinator such as ZHA reads, writes and configures reporting
on them while it sets the device up. `ClusterAttributes` is one side (server or client) of one
cluster on one endpoint: which attributes it implements, their values (live, from the device, or
writable through the node) and their reporting configuration. `answer` answers the general
commands for a node's clusters, as ZCL rev 8 (07-5123-08) says:

* Read Attributes (§2.5.1, §2.5.2): one record per attribute asked; an attribute the side does
  not implement is UNSUPPORTED_ATTRIBUTE.
* Write Attributes, Undivided, and No Response (§2.5.3-§2.5.6): UNSUPPORTED_ATTRIBUTE,
  READ_ONLY (an attribute that is not writable), INVALID_DATA_TYPE (a type other than the
  attribute's), INVALID_VALUE (a value the type cannot hold); the others are written (Undivided:
  none is written unless all can be). The response is one SUCCESS record when every write
  succeeded, otherwise one record per failure; No Response answers nothing.
* Configure Reporting (§2.5.7, §2.5.8) and Read Reporting Configuration (§2.5.9, §2.5.10):
  UNSUPPORTED_ATTRIBUTE, INVALID_DATA_TYPE, INVALID_VALUE (maximum below minimum), NOT_FOUND for
  an attribute with no configuration; the configuration is kept. The emulated device does not
  send reports.
* Everything else: a Default Response (§2.5.12) UNSUP_GENERAL_COMMAND, or MALFORMED_COMMAND
  for a payload that does not parse.

Manufacturer-specific frames get UNSUP_MANUF_GENERAL_COMMAND / UNSUP_MANUF_CLUSTER_COMMAND: the
emulated devices have no manufacturer extensions. Whether a Default Response is sent at all
(unicast only, never to a Default Response, and for success only when the sender did not set
Disable Default Response) is `default_response`'s rule, §2.5.12.2.

Sans-IO: it maps frame bytes to answer bytes, never sends, never reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import zigpy.types as t
import zigpy.zcl
from zigpy.zcl import foundation
from zigpy.zcl.clusters.general import Basic
from zigpy.zcl.foundation import GeneralCommand, Status, ZCLAttributeDef, ZCLHeader

CLUSTER_REVISION = 0xFFFD
KEY_ESTABLISHMENT_CLUSTER = 0x0800


class KeyEstablishmentSuite(t.enum16):
    CBKE_ECMQV_suite_1 = 0x0001
    CBKE_ECMQV_suite_2 = 0x0002


KEY_ESTABLISHMENT_SUITE = ZCLAttributeDef(
    id=0x0000,
    name="key_establishment_suite",
    type=KeyEstablishmentSuite,
    access="r",
    mandatory=True,
)
"""SE 1.4 §C.3.1.2 (on both sides): zigpy declares the Key Establishment cluster without it."""
_GLOBAL = Basic.attributes[CLUSTER_REVISION]  # every cluster's ClusterRevision (ZCL §2.3.5.1)
_WRITES = (
    GeneralCommand.Write_Attributes,
    GeneralCommand.Write_Attributes_Undivided,
    GeneralCommand.Write_Attributes_No_Response,
)


def definitions(cluster_id: int) -> dict[str, ZCLAttributeDef]:
    """Attribute definitions of a cluster by name: zigpy's, plus what zigpy leaves out."""
    cls = zigpy.zcl.Cluster._registry.get(cluster_id)
    found = {d.name: d for d in cls.attributes.values()} if cls is not None else {}
    found.setdefault(_GLOBAL.name, _GLOBAL)
    if cluster_id == KEY_ESTABLISHMENT_CLUSTER:
        found[KEY_ESTABLISHMENT_SUITE.name] = KEY_ESTABLISHMENT_SUITE
    return found


@dataclass
class ClusterAttributes:
    """One side of one cluster: the attributes it implements.

    `live` returns their values by zigpy's attribute names (an attribute is implemented when it
    is there); those named in `writable` may be written, and `on_write` stores a written value.
    """

    cluster_id: int
    live: Callable[[], Mapping[str, Any]]
    writable: frozenset[str] = frozenset()
    on_write: Callable[[str, Any], None] | None = None
    reporting: dict[tuple[int, int], foundation.AttributeReportingConfig] = field(
        default_factory=dict
    )

    def __post_init__(self) -> None:
        by_name = definitions(self.cluster_id)
        unknown = set(self.live()) - set(by_name)
        if unknown:
            raise ValueError(f"cluster 0x{self.cluster_id:04X} defines no {sorted(unknown)}")
        self.implemented: dict[int, ZCLAttributeDef] = {
            by_name[n].id: by_name[n] for n in self.live()
        }

    def value(self, definition: ZCLAttributeDef) -> Any:
        return _typed(definition, self.live().get(definition.name))

    def can_write(self, definition: ZCLAttributeDef) -> bool:
        return (
            self.on_write is not None
            and definition.name in self.writable
            and bool(definition.access & foundation.ZCLAttributeAccess.Write)
        )

    # -- the general commands ---------------------------------------------------------------

    def read(self, attribute_ids: list[int]) -> list[foundation.ReadAttributeRecord]:
        records = []
        for attrid in attribute_ids:
            definition = self.implemented.get(attrid)
            value = None if definition is None else self.value(definition)
            if value is None:
                records.append(
                    foundation.ReadAttributeRecord(
                        attrid=attrid, status=Status.UNSUPPORTED_ATTRIBUTE
                    )
                )
                continue
            records.append(
                foundation.ReadAttributeRecord(
                    attrid=attrid,
                    status=Status.SUCCESS,
                    value=foundation.TypeValue(type=definition.zcl_type, value=value),
                )
            )
        return records

    def write(
        self, attributes: list[foundation.Attribute], *, undivided: bool
    ) -> list[foundation.WriteAttributesStatusRecord]:
        checked = [(a.attrid, *self._check_write(a)) for a in attributes]
        failed = [
            foundation.WriteAttributesStatusRecord(status=status, attrid=attrid)
            for attrid, status, _name, _value in checked
            if status != Status.SUCCESS
        ]
        if not (undivided and failed):
            for _attrid, status, name, value in checked:
                if status == Status.SUCCESS and self.on_write is not None:
                    self.on_write(name, value)
        return failed or [foundation.WriteAttributesStatusRecord(status=Status.SUCCESS)]

    def _check_write(self, attribute: foundation.Attribute) -> tuple[Status, str, Any]:
        definition = self.implemented.get(attribute.attrid)
        if definition is None:
            return Status.UNSUPPORTED_ATTRIBUTE, "", None
        if not self.can_write(definition):
            return Status.READ_ONLY, definition.name, None
        if attribute.value.type != definition.zcl_type:
            return Status.INVALID_DATA_TYPE, definition.name, None
        try:
            value = definition.type(attribute.value.value)
        except (TypeError, ValueError):
            return Status.INVALID_VALUE, definition.name, None
        return Status.SUCCESS, definition.name, value

    def configure_reporting(
        self, records: list[foundation.AttributeReportingConfig]
    ) -> list[foundation.ConfigureReportingResponseRecord]:
        results = []
        for record in records:
            status = self._check_reporting(record)
            if status == Status.SUCCESS:
                self.reporting[(int(record.direction), int(record.attrid))] = record
            results.append(
                foundation.ConfigureReportingResponseRecord(
                    status=status, direction=record.direction, attrid=record.attrid
                )
            )
        return results

    def _check_reporting(self, record: foundation.AttributeReportingConfig) -> Status:
        if record.direction == foundation.ReportingDirection.ReceiveReports:
            return Status.SUCCESS  # a timeout for reports the other side sends: kept, not checked
        definition = self.implemented.get(record.attrid)
        if definition is None:
            return Status.UNSUPPORTED_ATTRIBUTE
        if record.datatype != definition.zcl_type:
            return Status.INVALID_DATA_TYPE
        if (
            record.max_interval not in (0x0000, 0xFFFF)
            and record.max_interval < record.min_interval
        ):
            return Status.INVALID_VALUE
        return Status.SUCCESS

    def reporting_configuration(
        self, records: list[foundation.ReadReportingConfigRecord]
    ) -> list[foundation.AttributeReportingConfigWithStatus]:
        results = []
        for record in records:
            config = self.reporting.get((int(record.direction), int(record.attrid)))
            if config is not None:
                results.append(
                    foundation.AttributeReportingConfigWithStatus(
                        status=Status.SUCCESS, config=config
                    )
                )
                continue
            empty = foundation.AttributeReportingConfig()
            empty.direction = foundation.ReportingDirection(record.direction)
            empty.attrid = record.attrid
            known = (
                record.attrid in self.implemented
                or record.direction == foundation.ReportingDirection.ReceiveReports
            )
            status = Status.NOT_FOUND if known else Status.UNSUPPORTED_ATTRIBUTE
            results.append(
                foundation.AttributeReportingConfigWithStatus(status=status, config=empty)
            )
        return results


def _typed(definition: ZCLAttributeDef, raw: Any) -> Any:
    if raw is None:
        return None
    if definition.type is t.EUI64 and isinstance(raw, int):
        return t.EUI64(raw.to_bytes(8, "little"))  # zigpy's EUI64 is its 8 bytes, LSB first
    return definition.type(raw)


def response_header(request: ZCLHeader, command_id: int) -> ZCLHeader:
    """The header of an answer to `request`: same TSN, the other direction, no Default
    Response wanted (a response never asks for one)."""
    header = ZCLHeader.general(request.tsn, command_id, direction=request.direction.flip())
    header.frame_control = header.frame_control.replace(disable_default_response=True)
    return header


def default_response(request: ZCLHeader, status: Status, *, broadcast: bool) -> bytes | None:
    """A Default Response to `request`, or None when ZCL §2.5.12.2 says none is sent: never to
    a broadcast or to a Default Response, and for success only if the sender did not set
    Disable Default Response."""
    if broadcast:
        return None
    if request.frame_control.is_general and request.command_id == GeneralCommand.Default_Response:
        return None
    if status == Status.SUCCESS and request.frame_control.disable_default_response:
        return None
    payload = foundation.DefaultResponse(command_id=request.command_id, status=status)
    return response_header(request, GeneralCommand.Default_Response).serialize() + (
        payload.serialize()
    )


def unsupported(request: ZCLHeader) -> Status:
    """The status for a command the device does not implement (ZCL §2.6.3 status codes)."""
    fc = request.frame_control
    if fc.is_manufacturer_specific:
        return (
            Status.UNSUP_MANUF_GENERAL_COMMAND
            if fc.is_general
            else (Status.UNSUP_MANUF_CLUSTER_COMMAND)
        )
    return Status.UNSUP_GENERAL_COMMAND if fc.is_general else Status.UNSUP_CLUSTER_COMMAND


def answer(
    cluster: ClusterAttributes, request: ZCLHeader, payload: bytes, *, broadcast: bool
) -> bytes | None:
    """The answer to general command `request` on one side of a cluster (bytes to send), or
    None when nothing is sent."""
    command = request.command_id
    if request.frame_control.is_manufacturer_specific or command not in _HANDLED:
        return default_response(request, unsupported(request), broadcast=broadcast)
    schema = foundation.GENERAL_COMMANDS[command].schema
    try:
        args, _ = schema.deserialize(payload)
    except (ValueError, KeyError, TypeError):
        return default_response(request, Status.MALFORMED_COMMAND, broadcast=broadcast)
    response_id, body = _HANDLED[command](cluster, args)
    if response_id is None:
        return None
    return response_header(request, response_id).serialize() + body


def _read(cluster: ClusterAttributes, args: Any) -> tuple[int, bytes]:
    records = cluster.read(list(args.attribute_ids))
    schema = foundation.GENERAL_COMMANDS[GeneralCommand.Read_Attributes_rsp].schema
    return GeneralCommand.Read_Attributes_rsp, schema(status_records=records).serialize()


def _write(command: int) -> Callable[[ClusterAttributes, Any], tuple[int | None, bytes]]:
    def write(cluster: ClusterAttributes, args: Any) -> tuple[int | None, bytes]:
        undivided = command == GeneralCommand.Write_Attributes_Undivided
        records = cluster.write(list(args.attributes), undivided=undivided)
        if command == GeneralCommand.Write_Attributes_No_Response:
            return None, b""  # §2.5.6: no response, whatever the outcome
        response = foundation.WriteAttributesResponse(records)
        return GeneralCommand.Write_Attributes_rsp, response.serialize()

    return write


def _configure(cluster: ClusterAttributes, args: Any) -> tuple[int, bytes]:
    records = cluster.configure_reporting(list(args.config_records))
    return (
        GeneralCommand.Configure_Reporting_rsp,
        foundation.ConfigureReportingResponse(records).serialize(),
    )


def _read_reporting(cluster: ClusterAttributes, args: Any) -> tuple[int, bytes]:
    records = cluster.reporting_configuration(list(args.attribute_records))
    return GeneralCommand.Read_Reporting_Configuration_rsp, b"".join(r.serialize() for r in records)


_HANDLED: dict[int, Callable[[ClusterAttributes, Any], tuple[int | None, bytes]]] = {
    GeneralCommand.Read_Attributes: _read,
    **{command: _write(command) for command in _WRITES},
    GeneralCommand.Configure_Reporting: _configure,
    GeneralCommand.Read_Reporting_Configuration: _read_reporting,
}
