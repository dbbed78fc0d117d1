"""Draws Robocoach's application icon: a robot head with a speech bubble, flat, three colours.

    .venv/bin/python scripts/make_icon.py

One list of shapes is written twice: as SVG (packaging/icons/robocoach.svg, the source) and rasterised with
Pillow (packaging/icons/robocoach.png, 512 px, used by the window, the .desktop entry and the bundle; and
ui/public/favicon.png, 64 px). Pillow cannot read SVG, so the shapes are drawn directly, at 4x and scaled
down for smooth edges. Deterministic: the same bytes every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
SIZE = 512
SUPERSAMPLE = 4

TEAL = "#1d6b73"
CREAM = "#f7f4ea"
AMBER = "#f2a541"


@dataclass(frozen=True)
class Box:  # a rounded rectangle
    x0: int
    y0: int
    x1: int
    y1: int
    radius: int
    fill: str


@dataclass(frozen=True)
class Circle:
    cx: int
    cy: int
    r: int
    fill: str


@dataclass(frozen=True)
class Polygon:
    points: tuple[tuple[int, int], ...]
    fill: str


Shape = Box | Circle | Polygon

SHAPES: list[Shape] = [
    Box(16, 16, 496, 496, 104, TEAL),  # the tile
    Box(246, 112, 266, 176, 6, CREAM),  # antenna
    Circle(256, 100, 26, AMBER),
    Box(86, 240, 124, 330, 14, CREAM),  # ears
    Box(388, 240, 426, 330, 14, CREAM),
    Box(116, 170, 396, 404, 58, CREAM),  # head
    Circle(196, 270, 30, TEAL),  # eyes
    Circle(316, 270, 30, TEAL),
    Box(196, 336, 316, 360, 12, TEAL),  # mouth
    Box(326, 40, 478, 126, 36, AMBER),  # speech bubble, with its tail and three dots
    Polygon(((350, 116), (392, 116), (336, 156)), AMBER),
    Circle(366, 83, 10, TEAL),
    Circle(402, 83, 10, TEAL),
    Circle(438, 83, 10, TEAL),
]


def svg(shapes: list[Shape]) -> str:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" viewBox="0 0 {SIZE} {SIZE}">'
    ]
    for shape in shapes:
        if isinstance(shape, Box):
            parts.append(
                f'  <rect x="{shape.x0}" y="{shape.y0}" width="{shape.x1 - shape.x0}" '
                f'height="{shape.y1 - shape.y0}" rx="{shape.radius}" fill="{shape.fill}"/>'
            )
        elif isinstance(shape, Circle):
            parts.append(f'  <circle cx="{shape.cx}" cy="{shape.cy}" r="{shape.r}" fill="{shape.fill}"/>')
        else:
            points = " ".join(f"{x},{y}" for x, y in shape.points)
            parts.append(f'  <polygon points="{points}" fill="{shape.fill}"/>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def raster(shapes: list[Shape], size: int) -> Image.Image:
    k = SUPERSAMPLE * size / SIZE
    big = Image.new("RGBA", (SUPERSAMPLE * size, SUPERSAMPLE * size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(big)
    for shape in shapes:
        if isinstance(shape, Box):
            box = (shape.x0 * k, shape.y0 * k, shape.x1 * k - 1, shape.y1 * k - 1)
            draw.rounded_rectangle(box, radius=shape.radius * k, fill=shape.fill)
        elif isinstance(shape, Circle):
            box = (
                (shape.cx - shape.r) * k,
                (shape.cy - shape.r) * k,
                (shape.cx + shape.r) * k,
                (shape.cy + shape.r) * k,
            )
            draw.ellipse(box, fill=shape.fill)
        else:
            draw.polygon([(x * k, y * k) for x, y in shape.points], fill=shape.fill)
    return big.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    icons = ROOT / "packaging" / "icons"
    icons.mkdir(parents=True, exist_ok=True)
    (icons / "robocoach.svg").write_text(svg(SHAPES))
    raster(SHAPES, SIZE).save(icons / "robocoach.png", optimize=True)
    public = ROOT / "ui" / "public"
    public.mkdir(parents=True, exist_ok=True)
    raster(SHAPES, 64).save(public / "favicon.png", optimize=True)
    print(f"wrote {icons / 'robocoach.svg'}, {icons / 'robocoach.png'}, {public / 'favicon.png'}")


if __name__ == "__main__":
    main()
