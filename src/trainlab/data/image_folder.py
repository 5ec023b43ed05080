"""An image folder `root/<class>/*.png|*.jpg|*.jpeg`, read with Pillow.

Every image is resized to `size` x `size` (bilinear). Images are RGB (3 channels) unless
all of them are grayscale, then 1 channel. Values are scaled to [0, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trainlab.data.bundle import RawData
from trainlab.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def load_image_folder(root: Path, size: int) -> RawData:
    from PIL import Image, UnidentifiedImageError

    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(root, "expected one sub-folder per class (root/<class>/*.png)")
    files: list[tuple[Path, int]] = []
    for k, c in enumerate(classes):
        found = sorted(p for p in (root / c).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise DataError(root / c, "class folder holds no .png/.jpg/.jpeg image")
        files += [(p, k) for p in found]
    images = []
    for p, _ in files:
        try:
            with Image.open(p) as im:
                im.load()
                images.append(im.copy())
        except (OSError, UnidentifiedImageError) as e:
            raise DataError(p, f"unreadable image ({e})") from None
    gray = all(im.mode in ("L", "1", "I;16", "I") for im in images)
    mode = "L" if gray else "RGB"
    arrays = [
        np.asarray(im.convert(mode).resize((size, size), Image.Resampling.BILINEAR))
        for im in images
    ]
    x = np.stack(arrays).astype(np.float32) / 255.0  # (N, H, W) or (N, H, W, 3)
    x = x[:, None] if gray else x.transpose(0, 3, 1, 2)  # -> (N, C, H, W)
    y = np.array([k for _, k in files], dtype=np.int64)
    return RawData(x=x, y=y, task="classification", class_names=classes)
