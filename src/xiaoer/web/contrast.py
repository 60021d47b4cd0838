"""WCAG 2 contrast for colours a shop chooses (the widget's brand colour under white text)."""

from __future__ import annotations

import re

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")
AA_NORMAL_TEXT = 4.5


def parse_hex(value: str) -> tuple[int, int, int] | None:
    match = _HEX.match(value.strip())
    if not match:
        return None
    digits = match.group(1)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _channel(c: int) -> float:
    s = c / 255
    return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4


def relative_luminance(rgb: tuple[int, int, int]) -> float:
    r, g, b = (_channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def to_hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def readable_on_white_text(value: str, minimum: float = AA_NORMAL_TEXT) -> str | None:
    """The colour itself when white text on it reaches `minimum`, else the lightest darker shade
    of the same hue that does (scaling towards black keeps the hue); None for a non-colour."""
    rgb = parse_hex(value)
    if rgb is None:
        return None
    white = (255, 255, 255)
    if contrast_ratio(rgb, white) >= minimum:
        return to_hex(rgb)
    # Contrast falls as the factor grows, so bisect for the largest factor that still passes.
    lo, hi = 0.0, 1.0
    for _ in range(24):
        mid = (lo + hi) / 2
        shade = tuple(round(c * mid) for c in rgb)
        if contrast_ratio(shade, white) >= minimum:  # type: ignore[arg-type]
            lo = mid
        else:
            hi = mid
    darker = (round(rgb[0] * lo), round(rgb[1] * lo), round(rgb[2] * lo))
    return to_hex(darker)
