"""What goes wrong when bytes from a peer are read as SMPP, and how to answer it."""

from __future__ import annotations

from tidings.channels.smpp.constants import RESPONSE_BIT, CommandId, CommandStatus


class PduError(Exception):
    """A PDU that cannot be decoded.

    ``command_status`` is the status to answer with; ``sequence_number`` and ``command_id``
    are set when the header was readable. ``fatal`` means the byte stream has lost its
    framing (a command_length that cannot be trusted): the connection must be closed.
    """

    def __init__(
        self,
        message: str,
        command_status: int,
        *,
        sequence_number: int | None = None,
        command_id: int | None = None,
        fatal: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.command_status = int(command_status)
        self.sequence_number = sequence_number
        self.command_id = command_id
        self.fatal = fatal

    @property
    def response_command_id(self) -> int | None:
        """The command_id of the PDU to answer with, or None when nothing may be answered.

        As SMPP 3.4 §4.3 says, an invalid command_length or an unknown command_id is
        answered with generic_nack; a request whose body is bad with its own response
        carrying the error status; a response with a bad body is not answered.
        """
        if self.command_status in _NACK_STATUSES or self.command_id is None:
            return int(CommandId.GENERIC_NACK)
        if self.command_id & RESPONSE_BIT:
            return None
        return self.command_id | RESPONSE_BIT

    def __repr__(self) -> str:
        status = _status_name(self.command_status)
        return (
            f"{type(self).__name__}({self.message!r}, {status}, "
            f"sequence_number={self.sequence_number}, command_id={self.command_id}, "
            f"fatal={self.fatal})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PduError):
            return NotImplemented
        return (
            type(self) is type(other)
            and self.message == other.message
            and self.command_status == other.command_status
            and self.sequence_number == other.sequence_number
            and self.command_id == other.command_id
            and self.fatal == other.fatal
        )

    def __hash__(self) -> int:
        return hash((type(self), self.message, self.command_status, self.sequence_number))


class UnknownCommandError(PduError):
    """A well-framed PDU whose command_id this codec does not know: answer generic_nack
    with ESME_RINVCMDID and the same sequence number, then carry on reading."""

    def __init__(self, command_id: int, sequence_number: int) -> None:
        super().__init__(
            f"unknown or unsupported command_id 0x{command_id:08X}",
            CommandStatus.ESME_RINVCMDID,
            sequence_number=sequence_number,
            command_id=command_id,
        )


_NACK_STATUSES = frozenset({CommandStatus.ESME_RINVCMDLEN, CommandStatus.ESME_RINVCMDID})


def _status_name(status: int) -> str:
    try:
        return CommandStatus(status).name
    except ValueError:
        return f"0x{status:08X}"
