"""Type stub of the compiled ITCH chunk loop (``_itch_core.pyx``); see ``itch_fast`` for the contract."""

from tapeflow.model.events import Event

from .itch_mapping import EventMapper

IMPLEMENTATION: str

def scan(
    data: bytes, limit: int, offset: int, out: list[Event], mapper: EventMapper, strict: bool, name: str
) -> tuple[int, int, int, int]: ...
