"""Turn MNIST training digits into pen strokes for the browser test: writes strokes.json.

Usage::

    python tests/data/make_strokes.py --data ROOT [--preview strokes.png]

For each digit 0-9 it takes the first image of that digit in MNIST's *training* set (never
the test set), thins its ink to a one-pixel skeleton (Zhang and Suen's algorithm, on the
image enlarged 4x), and traces the skeleton into polylines: each starts at a free end
(or anywhere on a loop) and follows unvisited neighbours. Points are kept every few
pixels, as fractions of the 28x28 frame (0 to 1, x then y), so a test can scale them to
any canvas. ``--preview`` draws the strokes as the page's pen would, for a look.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
SCALE = 4  # the digit is enlarged 4x (to 112x112) before thinning
STEP = 3  # keep every 3rd skeleton pixel of a stroke
MIN_STROKE = 4  # skeleton pixels; shorter spurs are thinning noise
NEIGHBOURS = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a boolean image to a one-pixel-wide skeleton."""
    image = np.pad(mask.astype(np.uint8), 1)
    changed = True
    while changed:
        changed = False
        for step in (0, 1):
            p = [np.roll(np.roll(image, -dy, 0), -dx, 1) for dy, dx in NEIGHBOURS]  # P2..P9
            count = sum(p)
            ring = p + [p[0]]
            transitions = sum((ring[i] == 0) & (ring[i + 1] == 1) for i in range(8))
            if step == 0:
                a, b = p[0] * p[2] * p[4], p[2] * p[4] * p[6]
            else:
                a, b = p[0] * p[2] * p[6], p[0] * p[4] * p[6]
            drop = (image == 1) & (count >= 2) & (count <= 6) & (transitions == 1)
            drop &= (a == 0) & (b == 0)
            if drop.any():
                image[drop] = 0
                changed = True
    return image[1:-1, 1:-1].astype(bool)


def trace(skeleton: np.ndarray) -> list[list[tuple[int, int]]]:
    """Skeleton pixels -> polylines of (row, col), longest walks from free ends first."""
    left = {(int(r), int(c)) for r, c in zip(*np.nonzero(skeleton), strict=True)}

    def around(pixel: tuple[int, int]) -> list[tuple[int, int]]:
        r, c = pixel
        # edge neighbours before diagonal ones: the walk stays on the stroke
        order = NEIGHBOURS[0::2] + NEIGHBOURS[1::2]
        return [(r + dr, c + dc) for dr, dc in order if (r + dr, c + dc) in left]

    strokes = []
    while left:
        ends = sorted(p for p in left if len(around(p)) == 1)
        start = ends[0] if ends else min(left)
        path = [start]
        left.discard(start)
        while nxt := around(path[-1]):
            path.append(nxt[0])
            left.discard(nxt[0])
        if not ends and len(path) > 2:  # a loop: close it
            path.append(path[0])
        if len(path) >= MIN_STROKE:
            strokes.append(path)
    return strokes


def digit_strokes(image: np.ndarray) -> list[list[list[float]]]:
    """A 28x28 uint8 MNIST digit -> strokes of [x, y] points in [0, 1]."""
    big = Image.fromarray(image).resize((28 * SCALE, 28 * SCALE), Image.Resampling.BILINEAR)
    skeleton = thin(np.asarray(big) >= 128)
    side = 28 * SCALE
    out = []
    for path in trace(skeleton):
        kept = path[::STEP] + ([path[-1]] if (len(path) - 1) % STEP else [])
        out.append([[round((c + 0.5) / side, 4), round((r + 0.5) / side, 4)] for r, c in kept])
    return out


def draw(strokes: list[list[list[float]]], size: int = 280, pen: int = 18) -> Image.Image:
    """The strokes drawn black on white, as the page's pen (18 px on 280) draws them."""
    picture = Image.new("L", (size, size), 255)
    pencil = ImageDraw.Draw(picture)
    for stroke in strokes:
        points = [(x * size, y * size) for x, y in stroke]
        pencil.line(points, fill=0, width=pen, joint="curve")
        for x, y in points[:: max(1, len(points) - 1)]:
            pencil.ellipse([x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2], fill=0)
    return picture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="MNIST root (torchvision layout)")
    parser.add_argument("--out", default=str(HERE / "strokes.json"))
    parser.add_argument("--preview", help="also draw the ten digits into this PNG")
    args = parser.parse_args()
    from torchvision.datasets import MNIST

    train = MNIST(args.data, train=True)
    digits = {}
    for label in range(10):
        index = int((train.targets == label).nonzero()[0])
        digits[str(label)] = {
            "mnist_train_index": index,
            "strokes": digit_strokes(train.data[index].numpy()),
        }
    document = {
        "source": "MNIST training set, the first image of each digit",
        "command": "python tests/data/make_strokes.py --data ROOT",
        "coordinates": "[x, y] as fractions of the 28x28 frame",
        "digits": digits,
    }
    Path(args.out).write_text(json.dumps(document, separators=(",", ":")) + "\n")
    print(f"wrote {args.out}: " + ", ".join(f"{d}: {len(v['strokes'])}" for d, v in digits.items()))
    if args.preview:
        sheet = Image.new("L", (280 * 10, 280), 255)
        for label, entry in digits.items():
            sheet.paste(draw(entry["strokes"]), (280 * int(label), 0))
        sheet.save(args.preview)


if __name__ == "__main__":
    main()
