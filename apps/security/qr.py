"""QR codes drawn on the server as inline SVG (the enrolment page loads nothing from elsewhere)."""

import segno


def svg(text: str) -> str:
    return segno.make(text, error="m").svg_inline(scale=5, border=2, dark="#1d273b", light="#ffffff")
