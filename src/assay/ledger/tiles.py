"""C2SP tlog-tiles: tile and entry-bundle paths, tile building, subtree hashes.

Pure: standard library only. A tile at level ``L`` and index ``N`` holds the
hashes of tree level ``8 * L`` for positions ``256 * N`` onwards; partial tiles
are prefixes of the full tile, so any tree size's partial tiles can be cut from
the newest data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from assay.ledger._rows import next_level
from assay.ledger.merkle import HASH_SIZE, NodeReader

__all__ = [
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "TileBuilder",
    "TileCache",
    "TileError",
    "encode_bundle",
    "entries_path",
    "full_tile_root",
    "index_path",
    "next_level",
    "parse_bundle",
    "parse_tile_path",
    "split_hashes",
    "tile_path",
    "tiles_for_size",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
_FULL_BYTES = TILE_WIDTH * HASH_SIZE

#: Returns the stored hashes of tile (level, index), at least as wide as needed.
TileReader = Callable[[int, int], bytes]


class TileError(ValueError):
    """A tile, bundle or path is malformed; the message names it."""


def index_path(index: int) -> str:
    """``1234067`` -> ``x001/x234/067`` (3-digit groups, all but the last prefixed x)."""
    if index < 0:
        raise TileError(f"tile index {index} is negative")
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def _suffix(width: int) -> str:
    if not 1 <= width <= TILE_WIDTH:
        raise TileError(f"tile width {width} is outside 1..256")
    return "" if width == TILE_WIDTH else f".p/{width}"


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]``."""
    if not 0 <= level <= 63:
        raise TileError(f"tile level {level} is outside 0..63")
    return f"tile/{level}/{index_path(index)}{_suffix(width)}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """``tile/entries/<N>[.p/<W>]``."""
    return f"tile/entries/{index_path(index)}{_suffix(width)}"


def parse_tile_path(path: str) -> tuple[int | None, int, int]:
    """``(level or None for entries, index, width)`` from a relative path; strict."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise TileError(f"{path}: not a tile path")
    width = TILE_WIDTH
    if len(parts) >= 2 and parts[-2].endswith(".p"):
        width = _parse_decimal(path, parts[-1])
        parts = [*parts[:-2], parts[-2].removesuffix(".p")]
    level = None if parts[1] == "entries" else _parse_decimal(path, parts[1])
    index = _parse_index(path, parts[2:])
    if tile_path(level or 0, index, width).replace("tile/0/", "tile/entries/", level is None) != path:
        raise TileError(f"{path}: not in canonical tlog-tiles form")
    return level, index, width


def _parse_decimal(path: str, text: str) -> int:
    if not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        raise TileError(f"{path}: {text!r} is not a decimal without leading zeros")
    return int(text)


def _parse_index(path: str, groups: list[str]) -> int:
    value = 0
    for position, group in enumerate(groups):
        digits = group[1:] if position < len(groups) - 1 and group.startswith("x") else group
        if len(digits) != 3 or not digits.isdigit():
            raise TileError(f"{path}: bad index element {group!r}")
        value = value * 1000 + int(digits)
    return value


def tiles_for_size(size: int) -> Iterator[tuple[int, int, int]]:
    """Every tile ``(level, index, width)`` of a tree of ``size`` (full and partial)."""
    level = 0
    while size >> (TILE_HEIGHT * level):
        count = size >> (TILE_HEIGHT * level)
        for index in range(count // TILE_WIDTH):
            yield level, index, TILE_WIDTH
        if count % TILE_WIDTH:
            yield level, count // TILE_WIDTH, count % TILE_WIDTH
        level += 1


def split_hashes(data: bytes) -> list[bytes]:
    if len(data) % HASH_SIZE:
        raise TileError(f"tile data of {len(data)} bytes is not a whole number of hashes")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def encode_bundle(entries: Iterable[bytes]) -> bytes:
    """Entry bundle: each entry prefixed by its length as a big-endian uint16."""
    out = bytearray()
    for entry in entries:
        if len(entry) > 0xFFFF:
            raise TileError(f"an entry of {len(entry)} bytes does not fit an entry bundle")
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


def parse_bundle(data: bytes) -> list[bytes]:
    entries: list[bytes] = []
    position = 0
    while position < len(data):
        if position + 2 > len(data):
            raise TileError(f"bundle ends inside a length prefix at byte {position}")
        length = int.from_bytes(data[position : position + 2], "big")
        position += 2
        if position + length > len(data):
            raise TileError(f"entry {len(entries)} of the bundle is cut short")
        entries.append(data[position : position + length])
        position += length
    return entries


def _tile_levels(hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Every complete level of the subtree a tile spans, bottom first."""
    levels = [list(hashes)]
    while len(levels[-1]) > 1:
        levels.append(next_level(levels[-1]))
    return levels


def full_tile_root(data: bytes) -> bytes:
    """Root of the 256-leaf subtree a full tile spans."""
    level = split_hashes(data)
    while len(level) > 1:
        level = next_level(level)
    return level[0]


class TileCache:
    """Perfect-subtree hashes served from tiles, with their interior levels cached.

    ``read(level, index)`` must return the tile's stored bytes. Only complete
    subtrees are ever asked for, and those are prefix-stable, so a cached tile
    stays correct while the log grows; a wider version replaces a narrow one.
    """

    def __init__(self, read: TileReader, capacity: int = 4096) -> None:
        self._read = read
        self._capacity = capacity
        self._tiles: dict[tuple[int, int], list[list[bytes]]] = {}

    def _levels(self, level: int, index: int, need: int) -> list[list[bytes]]:
        hashes = split_hashes(self._read(level, index))
        if len(hashes) < need:
            raise TileError(
                f"{tile_path(level, index, max(len(hashes), 1))} holds {len(hashes)} hashes, {need} needed"
            )
        levels = _tile_levels(hashes)
        if len(self._tiles) >= self._capacity:
            self._tiles.clear()  # simple and rare; a serving process re-reads its hot tiles
        self._tiles[(level, index)] = levels
        return levels

    def node(self, height: int, index: int) -> bytes:
        """Hash of the perfect subtree of ``height`` at ``index`` (a NodeReader)."""
        within = height & (TILE_HEIGHT - 1)
        first = index << within  # position at tree level 8 * (height // 8)
        offset = first & (TILE_WIDTH - 1)
        key = (height >> 3, first >> TILE_HEIGHT)
        levels = self._tiles.get(key)
        if levels is None or len(levels[0]) < offset + (1 << within):
            levels = self._levels(key[0], key[1], offset + (1 << within))
        return levels[within][offset >> within]

    @property
    def reader(self) -> NodeReader:
        return self.node


@dataclass
class TileBuilder:
    """Grows the tiles of a log one leaf hash at a time (what the sequencer runs).

    ``partial[L]`` is the current partial tile at level ``L``; a tile that fills
    up is emitted through ``completed`` and its root is pushed one level up.
    """

    size: int = 0
    partial: list[bytearray] = field(default_factory=list)
    completed: list[tuple[int, int, bytes]] = field(default_factory=list)
    touched: set[int] = field(default_factory=set)

    def append(self, leaf: bytes) -> None:
        self.extend((leaf,))

    def extend(self, leaves: Sequence[bytes]) -> None:
        """Append many leaf hashes, filling the level-0 tile a slice at a time."""
        if not self.partial:
            self.partial.append(bytearray())
        position = 0
        while position < len(leaves):
            tile = self.partial[0]
            room = TILE_WIDTH - len(tile) // HASH_SIZE
            chunk = leaves[position : position + room]
            tile += b"".join(chunk)
            self.size += len(chunk)
            position += len(chunk)
            self.touched.add(0)
            if len(tile) == _FULL_BYTES:
                self._complete(0)

    def add_full_tile(self, hashes: Sequence[bytes]) -> None:
        """Append one whole, aligned level-0 tile of leaf hashes (the verifier's fast path)."""
        if self.size % TILE_WIDTH or len(hashes) != TILE_WIDTH:
            raise TileError("a full tile needs 256 leaf hashes appended at a multiple of 256")
        if not self.partial:
            self.partial.append(bytearray())
        self.size += TILE_WIDTH
        self.touched.add(0)
        level = list(hashes)
        while len(level) > 1:
            level = next_level(level)
        self._complete(0, b"".join(hashes), level[0])

    def _complete(self, level: int, tile: bytes | None = None, root: bytes | None = None) -> None:
        """Emit the full tile at ``level`` and push its root one level up."""
        while True:
            tile = bytes(self.partial[level]) if tile is None else tile
            index = (self.size >> (TILE_HEIGHT * (level + 1))) - 1
            self.completed.append((level, index, tile))
            self.partial[level] = bytearray()
            level += 1
            if level == len(self.partial):
                self.partial.append(bytearray())
            self.partial[level] += full_tile_root(tile) if root is None else root
            self.touched.add(level)
            if len(self.partial[level]) < _FULL_BYTES:
                return
            tile = root = None

    def drain(self) -> tuple[list[tuple[int, int, bytes]], list[tuple[int, int, bytes]]]:
        """``(full tiles completed, partial tiles changed)`` since the last drain."""
        full, self.completed = self.completed, []
        partial = []
        for level in sorted(self.touched):
            data = self.partial[level] if level < len(self.partial) else bytearray()
            if data:
                index = self.size >> (TILE_HEIGHT * (level + 1))
                partial.append((level, index, bytes(data)))
        self.touched = set()
        return full, partial

    def read_tile(self, level: int, index: int) -> bytes:
        """The current partial tile (for root computation without storage)."""
        if level < len(self.partial) and index == self.size >> (TILE_HEIGHT * (level + 1)):
            return bytes(self.partial[level])
        raise TileError(f"tile {level}/{index} is not the builder's partial tile")
