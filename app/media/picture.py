"""Pictures exchanged between the media layer and the compositor."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Picture:
    """An RGBA image: `pixels` is a C-contiguous uint8 array of shape (height, width, 4) with
    straight (not premultiplied) alpha. Treat it as read-only: decoders may share it."""

    pixels: npt.NDArray[np.uint8]

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])
