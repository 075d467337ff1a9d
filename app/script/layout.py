"""Where a box goes on the canvas (spec §3 "Anchoring"): one rule for the renderer and lint.

The box is aligned to the canvas the way its position name says (top-left box corner to canvas
top-left, centre to centre, ...), then moved by the element's `x`, `y` (the caller adds those).
"""

from __future__ import annotations


def anchor(
    position: str,
    box_width: float,
    box_height: float,
    canvas_width: float,
    canvas_height: float,
    margin: float = 0.0,
) -> tuple[float, float]:
    """The top-left corner of a box aligned to the canvas as `position` says; `margin` keeps
    edge-aligned boxes that far from the edges (text's safe area), centred axes ignore it."""
    if position == "center":
        vertical, horizontal = "center", "center"
    else:
        vertical, _, horizontal = position.partition("-")
    if horizontal == "left":
        left = margin
    elif horizontal == "right":
        left = canvas_width - margin - box_width
    else:
        left = (canvas_width - box_width) / 2
    if vertical == "top":
        top = margin
    elif vertical == "bottom":
        top = canvas_height - margin - box_height
    else:
        top = (canvas_height - box_height) / 2
    return left, top
