from __future__ import annotations

import copy
from typing import Any

import pytest

EXAMPLE: dict[str, Any] = {
    "width": 1280,
    "height": 720,
    "fps": 30,
    "quality": "medium",
    "scenes": [
        {
            "name": "Title",
            "duration": 3,
            "background": "#101820",
            "elements": [
                {
                    "type": "text",
                    "text": "Hello",
                    "font_size": 72,
                    "position": "center",
                    "animation": "fade-in",
                },
                {"type": "audio", "src": "https://example.com/intro.ogg", "volume": 0.6},
            ],
        },
        {
            "duration": 5,
            "transition": {"type": "crossfade", "duration": 0.8},
            "elements": [
                {
                    "type": "video",
                    "src": "https://example.com/demo.mp4",
                    "fit": "cover",
                    "trim_start": 2,
                },
                {
                    "type": "image",
                    "src": "https://example.com/logo.png",
                    "width": 200,
                    "height": 100,
                    "position": "top-right",
                },
                {
                    "type": "text",
                    "text": "Made with Reelsmith",
                    "font_size": 36,
                    "position": "bottom-center",
                    "background_color": "#000000AA",
                },
            ],
        },
    ],
}


@pytest.fixture
def example() -> dict[str, Any]:
    """A valid script using every element type (media as URLs, so no files are needed)."""
    return copy.deepcopy(EXAMPLE)
