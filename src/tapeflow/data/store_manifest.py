"""What a Parquet store holds, and the only paths it may use: the manifest, partition names, output checks.

A store is a folder that a user may copy, edit or point ``--overwrite`` at, and symbols come from data. So:

- no name from data is ever used as a path: a symbol must be 1-32 printable ASCII characters (anything else is
  refused with the event that carried it) and its folder name keeps only ``A-Z 0-9 . -``, every other byte is
  written ``%XX`` (``BRK/A`` -> ``symbol=BRK%2FA``, ``/../../X`` -> ``symbol=%2F..%2F..%2FX``, lower case is
  escaped too so that case-insensitive file systems cannot merge two symbols); ``symbol=_`` holds events
  without a symbol. Every path is also resolved and checked to stay inside the store.
- the manifest ``_tapeflow_store.json`` lists every file with its row count, size and SHA-256 and is written
  last, atomically: a store without one is unfinished. The reader trusts nothing else: a missing, extra,
  renamed, truncated or altered file is a ``DataError`` naming it, before any event is returned. Parquet has
  no checksum of its own, so without the hash a flipped byte could silently change a price.
- the hash and the read open the file separately (the read must not wait for the hash, nor hold a file open
  longer than a row group), so the file could be replaced between them: the hash notes the identity of the file it
  read (``FileId``: device, inode, size, modification time in ns, from ``fstat`` of its own handle) and every open
  that reads it must find that identity on its own handle (``check_same``), or the read is refused. A file renamed
  over the listed one (a new inode) or written since (a new size or time) is refused, not read; only a writer that
  also puts the old modification time back goes unseen.
- ``--overwrite`` replaces only a folder that is a store (a valid manifest and nothing but its files).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Final

import msgspec

from tapeflow.data.files import STORE_MARKER
from tapeflow.data.store_schema import EVENT_TYPES
from tapeflow.model.errors import DataError

FORMAT: Final = "tapeflow-parquet"
VERSION: Final = 2
TABLES_VERSION: Final = 3
"""The version of a store that also holds tables that are not events (``TABLE_TYPES``); a version 2 store is one
without them and reads as before, and an older tapeflow refuses a version 3 store in one line."""
TABLE_TYPES: Final = frozenset({"LobsterBook"})
"""Files that are not events: ``LobsterBook`` is a LOBSTER day's messages with their orderbook rows, for the
verified L3 replay (``tapeflow.data.lobster_store``); the event reader skips them and ``events`` does not count them."""
NO_SYMBOL: Final = "_"
_KEEP: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_HEX64: Final = re.compile(r"[0-9a-f]{64}")


class FileEntry(msgspec.Struct, forbid_unknown_fields=True):
    """One Parquet file of the store: where it is, what it holds, and how to tell that it is unchanged."""

    path: str
    symbol: str
    date: str
    type: str
    rows: int
    bytes: int
    sha256: str


class Manifest(msgspec.Struct, forbid_unknown_fields=True):
    format: str
    version: int
    events: int
    files: list[FileEntry]


def symbol_problem(symbol: object) -> str | None:
    """Why ``symbol`` cannot name a partition, or None; ``""`` (no symbol) is allowed."""
    if not isinstance(symbol, str):
        return f"symbol {symbol!r} is not text"
    if len(symbol) > 32:
        return f"symbol {symbol[:40]!r}... is {len(symbol)} characters long (at most 32)"
    if not all(" " <= c <= "~" for c in symbol):
        return f"symbol {symbol!r} has a character outside printable ASCII"
    return None


def partition_name(symbol: str) -> str:
    """The folder name of ``symbol``'s partition; ``symbol_problem(symbol)`` must be None."""
    if not symbol:
        return f"symbol={NO_SYMBOL}"
    return "symbol=" + "".join(c if c in _KEEP else f"%{ord(c):02X}" for c in symbol)


def file_path(symbol: str, date: str, type_name: str) -> str:
    """The store-relative path of one file: derived, never taken from the data or the manifest."""
    return f"{partition_name(symbol)}/date={date}/{type_name}.parquet"


def inside(root: Path, rel: str) -> Path:
    """``root / rel``, refused unless it resolves to a place inside ``root`` (defence against any escape)."""
    path = root / rel
    base = root.resolve()
    resolved = path.resolve()
    if resolved == base or not resolved.is_relative_to(base):
        raise DataError(f"path {rel!r} would leave the store folder; refused", path=root)
    return path


FileId = tuple[int, int, int, int]
"""(device, inode, size, modification time in ns) of an open file: equal on two handles, the same file unchanged."""


def file_id(fd: int) -> FileId:
    """The identity of the file open at ``fd`` (an ``fstat``, no read)."""
    st = os.fstat(fd)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def sha256_of(path: Path) -> str:
    return _hashed(path)[0]


def _hashed(path: Path) -> tuple[str, FileId]:
    """The file's SHA-256 and the identity of the very file hashed, taken after the hash (a write meanwhile shows)."""
    with path.open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
        return digest, file_id(fh.fileno())


def check_same(fd: int, hashed: FileId, path: Path) -> None:
    """The file open at ``fd`` for reading is the one whose SHA-256 was checked (``hashed``), unchanged since."""
    try:
        now = file_id(fd)
    except OSError as exc:
        raise DataError(f"cannot read store file: {exc}; convert the source again", path=path) from exc
    if now != hashed:
        raise DataError(
            "store file was replaced or written between its SHA-256 check and its read; read the store again once "
            "nothing writes to it",
            path=path,
        )


def write_manifest(root: Path, manifest: Manifest) -> None:
    """Write the manifest last and atomically: a reader sees either no manifest or the complete one."""
    tmp = root / f".{STORE_MARKER}.tmp"
    tmp.write_bytes(msgspec.json.format(msgspec.json.encode(manifest), indent=1) + b"\n")
    os.replace(tmp, root / STORE_MARKER)


def load_manifest(root: Path) -> Manifest:
    """The manifest of the store at ``root``, checked entry by entry; a ``DataError`` naming the file otherwise."""
    marker = root / STORE_MARKER
    if not marker.is_file():
        raise DataError(f"not a tapeflow Parquet store (no {STORE_MARKER})", path=root)
    try:
        raw = marker.read_bytes()
        head = msgspec.json.decode(raw)
    except (OSError, msgspec.DecodeError) as exc:
        raise DataError(f"store manifest unreadable or damaged ({exc}); convert the source again", path=marker) from exc
    fmt, version = (head.get("format"), head.get("version")) if isinstance(head, dict) else (None, None)
    if fmt == FORMAT and isinstance(version, int) and version > TABLES_VERSION:
        raise DataError(
            f"store format {fmt!r} version {version} is newer than this tapeflow reads (versions {VERSION}-"
            f"{TABLES_VERSION}); update tapeflow or convert the source again with this one",
            path=marker,
        )
    if fmt != FORMAT or version not in (VERSION, TABLES_VERSION) or type(version) is not int:
        raise DataError(
            f"store format {fmt!r} version {version!r}, this tapeflow reads {FORMAT!r} version {VERSION} (with a "
            "list of its files); convert the source again",
            path=marker,
        )
    try:
        manifest = msgspec.json.decode(raw, type=Manifest)
    except msgspec.DecodeError as exc:
        raise DataError(f"store manifest unreadable or damaged ({exc}); convert the source again", path=marker) from exc
    seen: set[str] = set()
    total = 0
    for e in manifest.files:
        problem = symbol_problem(e.symbol)
        known = e.type in EVENT_TYPES or (manifest.version >= TABLES_VERSION and e.type in TABLE_TYPES)
        if problem is None and (not known or not _DATE.fullmatch(e.date)):
            problem = f"entry {e.path!r} has an unknown event type {e.type!r} or a bad date {e.date!r}"
        if problem is None and e.path != file_path(e.symbol, e.date, e.type):
            problem = f"entry {e.path!r} is not where its symbol, date and type put it"
        if problem is None and (e.rows < 0 or e.bytes < 0 or not _HEX64.fullmatch(e.sha256)):
            problem = f"entry {e.path!r} has a bad row count, size or hash"
        if problem is None and e.path in seen:
            problem = f"entry {e.path!r} is listed twice"
        if problem is not None:
            raise DataError(f"store manifest damaged: {problem}; convert the source again", path=marker)
        seen.add(e.path)
        total += e.rows if e.type not in TABLE_TYPES else 0
    if total != manifest.events:
        raise DataError(
            f"store manifest damaged: its files hold {total} rows but it says {manifest.events} events; "
            "convert the source again",
            path=marker,
        )
    return manifest


def check_listing(root: Path, manifest: Manifest) -> None:
    """Every file under ``root`` is the manifest or listed in it, and every listed file is there.

    A partition copied in, renamed or left by another tool would otherwise be read (or ignored) silently.
    Symbolic links count as foreign files: a store is written with none.
    """
    listed = {e.path for e in manifest.files}
    present: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        for name in sorted(filenames) + [d for d in sorted(dirnames) if (base / d).is_symlink()]:
            rel = (base / name).relative_to(root).as_posix()
            if rel == STORE_MARKER:
                continue
            if rel not in listed or (base / name).is_symlink():
                raise DataError(
                    "file is not part of the store (not in its manifest: copied in, renamed or left by another "
                    "tool); remove it or convert the source again",
                    path=base / name,
                )
            present.add(rel)
    for rel in sorted(listed - present):
        raise DataError(
            "file of the store is missing (listed in its manifest); convert the source again", path=root / rel
        )


def verify_file(path: Path, entry: FileEntry) -> FileId:
    """The file is byte for byte the one the writer listed: same size, same SHA-256; the identity of the file
    hashed, which a read must find on its own handle (``check_same``)."""
    check_size(path, entry)
    return check_digest(path, entry)


def check_size(path: Path, entry: FileEntry) -> None:
    """The file has the size the writer listed (a truncated or grown file), without reading it."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DataError(f"cannot read store file: {exc}; convert the source again", path=path) from exc
    if size != entry.bytes:
        raise DataError(
            f"store file is {size} bytes, its manifest says {entry.bytes}: truncated or changed since it was "
            "written; convert the source again",
            path=path,
        )


def check_digest(path: Path, entry: FileEntry) -> FileId:
    """The file's SHA-256 is the one the writer listed; returns the identity of the file hashed. hashlib releases
    the GIL while it hashes a large read, so a thread may decode the file meanwhile, as long as nothing it decodes
    is used before this returns and the thread's handle is found to hold this identity (``check_same``)."""
    try:
        digest, hashed = _hashed(path)
    except OSError as exc:
        raise DataError(f"cannot read store file: {exc}; convert the source again", path=path) from exc
    if digest != entry.sha256:
        raise DataError(
            "store file changed since it was written (SHA-256 differs from its manifest); convert the source again",
            path=path,
        )
    return hashed


def check_output(out: Path, *, overwrite: bool) -> None:
    """Refuse an output that is a file or a link, exists without ``overwrite``, or is a folder but not a store.

    Runs before any input is read, so a wrong ``--to`` costs nothing, and again just before the old store is
    replaced. ``--overwrite`` deletes only what a store consists of: a folder with a valid manifest and nothing
    but the files it lists.
    """
    if out.name in ("", ".", ".."):
        raise DataError("output must be a named folder (the store is written beside it, then renamed)", path=out)
    if out.is_symlink():
        raise DataError("output is a symbolic link; give a real folder path to --to", path=out)
    if not out.exists():
        if not out.parent.is_dir():
            raise DataError("the folder that should hold the output does not exist; create it first", path=out.parent)
        return
    if not out.is_dir():
        raise DataError("output exists and is not a folder; give --to a new folder path", path=out)
    if not overwrite:
        raise DataError(
            "output exists; pass --overwrite to replace a tapeflow store, or give --to a new path", path=out
        )
    try:
        manifest = load_manifest(out)
        check_listing(out, manifest)
    except DataError as exc:
        reason = str(exc).rsplit("; ", 1)[0]  # without the reader's advice, which is not the advice here
        raise DataError(
            f"--overwrite replaces only a tapeflow Parquet store, and this folder is not one ({reason}); "
            "remove it yourself or give --to a new path",
            path=out,
        ) from exc
