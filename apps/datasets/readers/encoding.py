"""Text encodings: BOM and declared-encoding checks, the first undecodable byte with its line."""

from __future__ import annotations

import codecs

from apps.datasets.readers.base import BOMS, CHUNK, SNIFF_BYTES, ReadError


# --------------------------------------------------------------------------------------------------- encoding
def _codec_name(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError as exc:
        raise ReadError(f"Unknown encoding {encoding!r}.", "encoding") from exc


def _first_decode_error(path: str, encoding: str) -> tuple[int, str] | None:
    """Byte offset and reason of the first undecodable byte, or None when the whole file decodes."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                pending = len(exc.object) - len(chunk)  # bytes the decoder carried over from the last chunk
                return offset - pending + exc.start, exc.reason
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return offset - len(exc.object) + exc.start, exc.reason
    return None


def _line_of_offset(path: str, offset: int) -> int:
    line = 1
    with open(path, "rb") as fh:
        remaining = offset
        while remaining > 0 and (chunk := fh.read(min(CHUNK, remaining))):
            line += chunk.count(b"\n")
            remaining -= len(chunk)
    return line


def detect_encoding(path: str, declared: str | None = None) -> str:
    """UTF-8 (with or without BOM; UTF-16/32 by BOM), else the declared encoding; a clear error otherwise."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    for bom, name in BOMS:
        if head.startswith(bom):
            if _first_decode_error(path, name) is None:
                return name
            break
    error = _first_decode_error(path, "utf-8")
    if error is None:
        return "utf-8"
    if declared and _codec_name(declared) not in ("utf-8", "utf-8-sig"):
        declared_error = _first_decode_error(path, _codec_name(declared))
        if declared_error is None:
            return _codec_name(declared)
        error = declared_error
    offset, reason = error
    line = _line_of_offset(path, offset)
    with open(path, "rb") as fh:
        fh.seek(offset)
        byte = fh.read(1)
    tried = "UTF-8" + (f" or {declared}" if declared else "")
    hint = "" if declared else " Choose the file's encoding (for example cp1252 or latin-1) and import again."
    raise ReadError(
        f"The file is not valid {tried}: byte 0x{byte.hex()} at offset {offset} (line {line}) cannot be decoded "
        f"({reason}).{hint}",
        "encoding",
        offset=offset,
        line=line,
    )


def read_text_head(path: str, encoding: str, n_bytes: int = SNIFF_BYTES) -> tuple[str, bool]:
    """Decoded start of the file (cut at the last newline unless the whole file fit) and whether it is all."""
    with open(path, "rb") as fh:
        raw = fh.read(n_bytes + 1)
    complete = len(raw) <= n_bytes
    raw = raw[:n_bytes]
    if not complete and b"\n" in raw:
        raw = raw[: raw.rindex(b"\n") + 1]
    text = raw.decode(encoding, errors="ignore")
    return text.lstrip("\ufeff"), complete
