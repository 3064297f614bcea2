"""Type stub of the compiled LOBSTER block reading (``_lobster_core.pyx``); the reference is ``lobster_parse``."""

import numpy as np
import numpy.typing as npt

_I64 = npt.NDArray[np.int64]

def parse_messages(block: bytes, rows: int, base: int) -> tuple[_I64, _I64, _I64, _I64, _I64, _I64] | None: ...
def row_ends(data: bytes) -> _I64: ...
def reveal_flags(
    rows: bytes, ends: _I64, prev_line: bytes, levels: int, kinds: _I64, dirs: _I64, first_block: bool
) -> bytearray | None: ...
