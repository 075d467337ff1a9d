"""Script colours: CSS order (#RRGGBBAA), never Qt's #AARRGGBB."""

from __future__ import annotations

import pytest

from app.render.colors import over_black, parse_color, qcolor


@pytest.mark.parametrize(
    ("value", "rgba"),
    [
        ("#fff", (255, 255, 255, 255)),
        ("#0A0", (0, 170, 0, 255)),
        ("#336699", (0x33, 0x66, 0x99, 255)),
        ("#FF000080", (255, 0, 0, 128)),
        ("#00000000", (0, 0, 0, 0)),
    ],
)
def test_parse_color_forms(value: str, rgba: tuple[int, int, int, int]) -> None:
    assert parse_color(value) == rgba
    assert qcolor(value).getRgb() == rgba


@pytest.mark.parametrize("bad", ["", "fff", "#ff", "#fffff", "#ggg", "#+12", "#1234567", "red"])
def test_parse_color_refuses_other_text(bad: str) -> None:
    with pytest.raises(ValueError, match="Invalid colour"):
        parse_color(bad)


def test_translucent_background_over_black() -> None:
    assert over_black("#FF000080").getRgb() == (128, 0, 0, 255)
    assert over_black("#123").getRgb() == (0x11, 0x22, 0x33, 255)
