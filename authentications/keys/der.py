"""A small DER reader for the key structures limits measures: definite lengths, one-byte
tags, every length checked against the bytes that are there. Anything else is a
DamagedKeyError, which carries no detail (the bytes may be a secret).
"""

from __future__ import annotations

# The longest OID read (see Der.oid).
MAX_OID_BYTES = 64


class DamagedKeyError(ValueError):
    """The DER does not have the shape it claims; carries no detail (it may be a secret)."""


class Der:
    """A cursor over the elements of one DER constructed value."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def at_end(self) -> bool:
        return self.position >= len(self.data)

    def peek_tag(self) -> int | None:
        return None if self.at_end() else self.data[self.position]

    def read(self, tag: int) -> bytes:
        """The content of the next element, which must have this tag."""
        data, at = self.data, self.position
        if at + 2 > len(data) or data[at] != tag:
            raise DamagedKeyError
        length, at = data[at + 1], at + 2
        if length & 0x80:
            count = length & 0x7F
            # No indefinite lengths (0x80) in DER; four length bytes are far more than we allow.
            if not 1 <= count <= 4 or at + count > len(data):
                raise DamagedKeyError
            length, at = int.from_bytes(data[at : at + count], "big"), at + count
        if at + length > len(data):
            raise DamagedKeyError
        self.position = at + length
        return data[at : at + length]

    def sequence(self) -> Der:
        return Der(self.read(0x30))

    def integer(self) -> int:
        content = self.read(0x02)
        if not content:
            raise DamagedKeyError
        return int.from_bytes(content, "big", signed=True)

    def octets(self) -> bytes:
        return self.read(0x04)

    def oid(self) -> str:
        content = self.read(0x06)
        # Algorithm OIDs are a dozen bytes; a longer one would be named in the message, and
        # one arc of thousands of bytes is a number Python refuses to print (a ValueError).
        if not content or content[-1] & 0x80 or len(content) > MAX_OID_BYTES:
            raise DamagedKeyError
        arcs: list[int] = []
        value = 0
        for byte in content:
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                arcs.append(value)
                value = 0
        first = min(arcs[0] // 40, 2)
        return ".".join(str(arc) for arc in [first, arcs[0] - 40 * first, *arcs[1:]])

    def algorithm(self) -> tuple[str, Der]:
        """An AlgorithmIdentifier: its OID and a cursor over what follows it (the parameters)."""
        identifier = self.sequence()
        return identifier.oid(), identifier


def whole(data: bytes) -> Der:
    """A cursor inside the one SEQUENCE that must make up all of data."""
    outer = Der(data)
    inner = outer.sequence()
    if not outer.at_end():
        raise DamagedKeyError
    return inner
