"""A minimal PDF writer (standard library only) for the emulator's labels and handover protocols.

Each page holds lines of text in Helvetica. The file is a real PDF: header,
numbered objects, a cross-reference table with exact byte offsets and a
trailer, so any PDF reader opens it and counts its pages.
"""

import unicodedata

# Page sizes in points (1/72 inch).
PAGE_SIZES = {"A4": (595, 842), "A6": (298, 420)}


def _ascii(text):
    """Helvetica's standard encoding has no Polish letters: write them without accents."""
    text = str(text).replace("ł", "l").replace("Ł", "L")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _literal(text):
    return "(%s)" % _ascii(text).replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _content(lines, height):
    """The drawing commands of one page: the first line large (a waybill), the others smaller."""
    parts = ["BT"]
    y = height - 40
    for index, line in enumerate(lines):
        size = 16 if index == 0 else 10
        parts.append("/F1 %d Tf 1 0 0 1 28 %d Tm %s Tj" % (size, y, _literal(line)))
        y -= size + 8
    parts.append("ET")
    return "\n".join(parts).encode("ascii")


def render(pages, page_size="A4"):
    """A PDF with one page per entry of ``pages`` (each a list of text lines)."""
    width, height = PAGE_SIZES[page_size]
    # Objects 1: catalog, 2: page tree, 3: font, then a page and its content stream per page.
    page_ids = [4 + 2 * index for index in range(len(pages))]
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        ("<< /Type /Pages /Kids [%s] /Count %d >>" % (" ".join("%d 0 R" % i for i in page_ids), len(pages))).encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for page_id, lines in zip(page_ids, pages):
        objects.append(("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 3 0 R >> >> "
                        "/Contents %d 0 R >>" % (width, height, page_id + 1)).encode())
        stream = _content(lines, height)
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")  # the binary comment marks the file as binary
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
