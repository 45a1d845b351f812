"""Cutting a TCP byte stream into PDUs, with a bound on what a peer can make us buffer."""

from __future__ import annotations

from typing import Final

from tidings.channels.smpp.constants import HEADER_SIZE, CommandStatus
from tidings.channels.smpp.errors import PduError
from tidings.channels.smpp.pdu import Pdu, decode

DEFAULT_MAX_COMMAND_LENGTH: Final = 64 * 1024
_LENGTH_SIZE: Final = 4


class PduReader:
    """Accepts bytes as they arrive and hands back whole PDUs and decode errors, in order.

    A PDU that is framed correctly but cannot be decoded comes back as a ``PduError``
    and reading goes on with the next one. A command_length below 16 or above
    ``max_command_length`` means the stream cannot be framed: that error is marked
    ``fatal``, is reported as soon as the four length octets arrive (nothing more is
    buffered), and the reader then ignores all further input; the caller should answer
    generic_nack if it likes and close the connection.
    """

    def __init__(self, max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH) -> None:
        if max_command_length < HEADER_SIZE:
            raise ValueError(
                f"max_command_length must be at least {HEADER_SIZE}, got {max_command_length}"
            )
        self.max_command_length = max_command_length
        self._buffer = bytearray()
        self._failure: PduError | None = None

    @property
    def failure(self) -> PduError | None:
        """The fatal error that stopped this reader, if any."""
        return self._failure

    @property
    def buffered(self) -> int:
        """Octets held while waiting for the rest of a PDU."""
        return len(self._buffer)

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[Pdu | PduError]:
        if self._failure is not None:
            return []
        buffer = self._buffer
        buffer += chunk
        results: list[Pdu | PduError] = []
        pos = 0
        while len(buffer) - pos >= _LENGTH_SIZE:
            length = int.from_bytes(buffer[pos : pos + _LENGTH_SIZE], "big")
            if not HEADER_SIZE <= length <= self.max_command_length:
                self._failure = PduError(
                    f"command_length {length} is outside {HEADER_SIZE}..."
                    f"{self.max_command_length}; the stream cannot be framed",
                    CommandStatus.ESME_RINVCMDLEN,
                    fatal=True,
                )
                results.append(self._failure)
                buffer.clear()
                return results
            if len(buffer) - pos < length:
                break
            frame = bytes(buffer[pos : pos + length])
            pos += length
            try:
                results.append(decode(frame))
            except PduError as error:
                results.append(error)
        del buffer[:pos]
        return results
