"""The text a reader sees in a PDF WeasyPrint wrote, read back from its bytes.

Enough of PDF for these documents: objects (also inside object streams), Flate streams, the
fonts' ToUnicode maps (two-byte glyph codes), and the text operators `Tf`, `Tj`, `TJ` and `Tm`. Text
drawn at one height is one line of the result, its runs (cells, fonts) separated by a space.
"""

from __future__ import annotations

import re
import zlib

OBJECT = re.compile(rb"(\d+) 0 obj\s*(.*?)endobj", re.S)
STREAM = re.compile(rb"^(.*?)stream\r?\n(.*)\r?\nendstream", re.S)
FONT_ENTRY = re.compile(rb"/([\w.+-]+) (\d+) 0 R")
TO_UNICODE = re.compile(rb"/ToUnicode (\d+) 0 R")
BFCHAR = re.compile(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>")
BFRANGE = re.compile(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>")
TEXT_OPERATION = re.compile(
    rb"/([\w.+-]+)\s+[\d.]+\s+Tf|\[(.*?)\]\s*TJ|<([0-9a-fA-F]*)>\s*Tj|(-?[\d.]+)\s+Tm\b", re.S
)
HEX = re.compile(rb"<([0-9a-fA-F]*)>")


def _objects(pdf: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    """Object number → (dictionary, decoded stream or None)."""
    found: dict[int, tuple[bytes, bytes | None]] = {}
    for number, body in OBJECT.findall(pdf):
        stream = STREAM.match(body)
        if stream is None:
            found[int(number)] = (body, None)
            continue
        head, data = stream.groups()
        if b"/FlateDecode" in head:
            data = zlib.decompress(data)
        found[int(number)] = (head, data)
        if b"/ObjStm" in head:
            first = int(re.search(rb"/First (\d+)", head).group(1))  # type: ignore[union-attr]
            index = [int(value) for value in data[:first].split()]
            pairs = list(zip(index[::2], index[1::2], strict=True))
            for position, (inner, offset) in enumerate(pairs):
                end = pairs[position + 1][1] if position + 1 < len(pairs) else len(data) - first
                found[inner] = (data[first + offset : first + end], None)
    return found


def _to_unicode(cmap: bytes) -> dict[int, str]:
    mapping: dict[int, str] = {}
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", cmap, re.S):
        for low, high, start in BFRANGE.findall(block):
            first = int(start, 16)
            for offset, code in enumerate(range(int(low, 16), int(high, 16) + 1)):
                mapping[code] = chr(first + offset)
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.S):
        for code, text in BFCHAR.findall(block):
            mapping[int(code, 16)] = bytes.fromhex(text.decode()).decode("utf-16-be")
    return mapping


def pdf_text(pdf: bytes) -> str:
    objects = _objects(pdf)
    maps_by_object = {
        number: _to_unicode(objects[int(match.group(1))][1] or b"")
        for number, (head, _) in objects.items()
        if (match := TO_UNICODE.search(head))
    }
    fonts: dict[bytes, dict[int, str]] = {}
    # Font resources name fonts by reference (`/f-0-0 53 0 R`), inline or in their own object.
    for head, data in objects.values():
        if data is None:
            for name, number in FONT_ENTRY.findall(head):
                if int(number) in maps_by_object:
                    fonts[name] = maps_by_object[int(number)]
    lines: list[str] = []
    for head, data in objects.values():
        if data is None or b"BT" not in data or b"/ObjStm" in head:
            continue
        mapping: dict[int, str] = {}
        current: list[str] = []
        height = b""
        for font, array, single, moved_to in TEXT_OPERATION.findall(data):
            if moved_to and moved_to != height:
                lines.append(_joined(current))
                current, height = [], moved_to
            elif font:
                mapping = fonts.get(font, {})
            chunks = HEX.findall(array) if array else [single] if single else []
            if chunks:
                current.append(
                    "".join(
                        mapping.get(int(chunk[i : i + 4], 16), "�")
                        for chunk in chunks
                        for i in range(0, len(chunk), 4)
                    )
                )
        lines.append(_joined(current))
    return "\n".join(line for line in lines if line)


def _joined(runs: list[str]) -> str:
    """Runs drawn at one height: a space between two cells, none after a (no-break) space."""
    text = ""
    for run in runs:
        text += run if not text or text[-1].isspace() or run[:1].isspace() else " " + run
    return text
