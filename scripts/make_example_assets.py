"""Draw every image the example storyboards need, and synthesize their music bed.

Everything is made here from code, deterministically (fixed seeds, no downloads), so the
assets in ``examples/`` can be rebuilt and checked at any time::

    python scripts/make_example_assets.py           # (re)write the assets
    python scripts/make_example_assets.py --check   # exit 1 if a committed asset is stale

Images are palette PNGs, at sizes the video model accepts (at least 300 px a side, aspect
between 1:2.5 and 2.5:1): characters and props drawn at 600x800 or 800x600 and set on a
16:9 page (1422x800, 1067x600: the film's shape), frame images at 1280x720 (16:9).
``--check`` compares decoded pixels (and audio samples, to within one step of rounding), so a
different zlib in another Pillow build does not count as a change.
"""

from __future__ import annotations

import argparse
import io
import math
import random
import sys
import wave
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

SUPERSAMPLE = 3
"""Shapes are drawn this many times larger, then scaled down: smooth edges, few colours."""
PALETTE_COLOURS = 192

RGB = tuple[int, int, int]
Point = tuple[float, float]


# --------------------------------------------------------------------------------------------
# Drawing helpers


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """The colour ``t`` of the way from ``a`` to ``b``."""
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


class Canvas:
    """A drawing surface addressed in final pixels, drawn at :data:`SUPERSAMPLE` times size."""

    def __init__(self, width: int, height: int, background: RGB = (0, 0, 0)) -> None:
        self.width = width
        self.height = height
        self.s = SUPERSAMPLE
        self.image = Image.new("RGB", (width * self.s, height * self.s), background)
        self.draw = ImageDraw.Draw(self.image)

    def _pts(self, points: Iterable[Point]) -> list[tuple[float, float]]:
        return [(x * self.s, y * self.s) for x, y in points]

    def _box(self, box: Sequence[float]) -> list[float]:
        return [v * self.s for v in box]

    def bands(self, top: float, bottom: float, colours: Sequence[RGB], steps: int = 12) -> None:
        """A banded vertical gradient through ``colours``: an illustrated sky or sea."""
        height = (bottom - top) / steps
        for i in range(steps):
            t = i / max(1, steps - 1) * (len(colours) - 1)
            k = min(int(t), len(colours) - 2)
            colour = mix(colours[k], colours[k + 1], t - k)
            self.rect((0, top + i * height, self.width, top + (i + 1) * height + 1), colour)

    def rect(self, box: Sequence[float], fill: RGB, radius: float = 0) -> None:
        if radius:
            self.draw.rounded_rectangle(self._box(box), radius * self.s, fill=fill)
        else:
            self.draw.rectangle(self._box(box), fill=fill)

    def ellipse(self, centre: Point, rx: float, ry: float, fill: RGB) -> None:
        x, y = centre
        self.draw.ellipse(self._box((x - rx, y - ry, x + rx, y + ry)), fill=fill)

    def circle(self, centre: Point, r: float, fill: RGB) -> None:
        self.ellipse(centre, r, r, fill)

    def poly(self, points: Iterable[Point], fill: RGB) -> None:
        self.draw.polygon(self._pts(points), fill=fill)

    def line(self, points: Iterable[Point], fill: RGB, width: float) -> None:
        self.draw.line(self._pts(points), fill=fill, width=max(1, round(width * self.s)))

    def arc(
        self, centre: Point, rx: float, ry: float, start: float, end: float, fill: RGB, width: float
    ) -> None:
        x, y = centre
        box = self._box((x - rx, y - ry, x + rx, y + ry))
        self.draw.arc(box, start, end, fill=fill, width=max(1, round(width * self.s)))

    def glow(self, centre: Point, radius: float, inner: RGB, outer: RGB, rings: int = 14) -> None:
        """Concentric discs from ``outer`` (at ``radius``) to ``inner`` at the centre."""
        for i in range(rings):
            t = i / (rings - 1)
            self.circle(centre, radius * (1 - t * 0.85), mix(outer, inner, t))

    def finish(self, colours: int = PALETTE_COLOURS) -> Image.Image:
        small = self.image.resize((self.width, self.height), Image.Resampling.LANCZOS)
        return small.quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def studio_backdrop(c: Canvas, top: RGB, bottom: RGB, floor: RGB) -> None:
    """The plain backdrop of a character sheet: a soft wall and a floor shadow."""
    c.bands(0, c.height, [top, bottom], steps=16)
    c.ellipse((c.width / 2, c.height - 38), c.width * 0.32, 22, floor)


# --------------------------------------------------------------------------------------------
# The lighthouse film: the keeper and her lantern (cast/images), the skipper and his trawler,
# and the dawn frame the `dawn` shot lands on.

SKIN = (234, 196, 168)
SKIN_SHADE = (206, 160, 132)
OILSKIN = (238, 188, 38)
OILSKIN_SHADE = (198, 146, 22)
WHITE_HAIR = (236, 236, 240)
HAIR_SHADE = (196, 198, 206)
NAVY = (34, 44, 74)
BOOT = (30, 30, 34)
EYE = (40, 34, 34)
BRASS = (186, 146, 62)
BRASS_DARK = (128, 96, 36)
RUBY = (176, 22, 36)
HULL = (34, 86, 168)
HULL_DARK = (22, 56, 116)
STRIPE = (196, 40, 40)
WHEELHOUSE = (240, 240, 236)
VEST = (244, 116, 28)
REFLECTIVE = (214, 220, 224)
KEEPER_WALL = ((70, 92, 118), (150, 166, 182), (52, 66, 84))
SKIPPER_WALL = ((86, 104, 96), (168, 182, 172), (58, 70, 64))


def keeper_front() -> Image.Image:
    c = Canvas(600, 800)
    studio_backdrop(c, *KEEPER_WALL)
    # boots and trousers
    c.rect((246, 700, 292, 770), BOOT, radius=10)
    c.rect((308, 700, 354, 770), BOOT, radius=10)
    c.rect((252, 600, 290, 712), NAVY)
    c.rect((310, 600, 348, 712), NAVY)
    # coat, arms and hands
    c.poly([(214, 330), (386, 330), (420, 650), (180, 650)], OILSKIN)
    c.poly([(214, 330), (180, 350), (160, 600), (196, 606), (226, 410)], OILSKIN_SHADE)
    c.poly([(386, 330), (420, 350), (440, 600), (404, 606), (374, 410)], OILSKIN_SHADE)
    c.circle((178, 612), 20, SKIN)
    c.circle((422, 612), 20, SKIN)
    c.line([(300, 360), (300, 646)], OILSKIN_SHADE, 5)
    for y in (400, 460, 520, 580):
        c.circle((300, y), 7, BRASS_DARK)
    c.rect((222, 520, 272, 566), OILSKIN_SHADE, radius=6)
    c.rect((328, 520, 378, 566), OILSKIN_SHADE, radius=6)
    c.poly([(258, 318), (300, 372), (342, 318)], OILSKIN_SHADE)  # collar
    # head, white hair and the braid over her right shoulder
    c.rect((282, 300, 318, 336), SKIN_SHADE)
    c.ellipse((300, 250), 64, 74, WHITE_HAIR)
    c.ellipse((300, 262), 54, 64, SKIN)
    for i in range(7):
        c.ellipse((352 + i * 3, 318 + i * 30), 15, 19, HAIR_SHADE if i % 2 else WHITE_HAIR)
    c.rect((350, 526, 378, 536), RUBY, radius=3)
    # face: eyes, brows, nose, smile and wrinkles
    for x in (278, 322):
        c.ellipse((x, 256), 7, 5, EYE)
        c.line([(x - 12, 240), (x + 12, 238)], HAIR_SHADE, 4)
        c.line([(x - 14, 270), (x - 4, 274)], SKIN_SHADE, 2)
    c.line([(300, 262), (294, 288), (302, 290)], SKIN_SHADE, 3)
    c.arc((300, 292), 20, 12, 20, 160, (150, 70, 70), 4)
    c.circle((270, 288), 9, (236, 170, 150))
    c.circle((330, 288), 9, (236, 170, 150))
    # sou'wester hat
    c.ellipse((300, 194), 108, 24, OILSKIN_SHADE)
    c.ellipse((300, 176), 66, 48, OILSKIN)
    c.rect((236, 186, 364, 196), OILSKIN_SHADE)
    return c.finish()


def keeper_side() -> Image.Image:
    c = Canvas(600, 800)
    studio_backdrop(c, *KEEPER_WALL)
    # legs, boots (facing right)
    c.rect((272, 600, 318, 712), NAVY)
    c.rect((262, 704, 336, 770), BOOT, radius=12)
    # braid hanging down her back, behind the coat
    for i in range(8):
        c.ellipse((236 - i, 300 + i * 30), 14, 18, HAIR_SHADE if i % 2 else WHITE_HAIR)
    c.rect((222, 534, 250, 544), RUBY, radius=3)
    # coat in profile and the near arm
    c.poly([(244, 330), (344, 330), (372, 650), (226, 650)], OILSKIN)
    c.poly([(282, 350), (324, 346), (340, 590), (300, 598)], OILSKIN_SHADE)
    c.circle((322, 604), 20, SKIN)
    c.poly([(330, 318), (356, 322), (344, 372)], OILSKIN_SHADE)  # collar
    # head in profile: hair at the back, nose to the right
    c.rect((282, 300, 320, 336), SKIN_SHADE)
    c.ellipse((292, 252), 62, 72, WHITE_HAIR)
    c.ellipse((306, 262), 48, 62, SKIN)
    c.poly([(350, 250), (372, 282), (350, 290)], SKIN)
    c.ellipse((334, 254), 6, 5, EYE)
    c.line([(322, 238), (344, 238)], HAIR_SHADE, 4)
    c.line([(336, 304), (350, 300)], (150, 70, 70), 4)
    c.ellipse((296, 262), 11, 15, SKIN_SHADE)  # ear
    # hat, brim longer at the back
    c.ellipse((296, 194), 112, 22, OILSKIN_SHADE)
    c.ellipse((300, 176), 62, 46, OILSKIN)
    return c.finish()


def keeper_back() -> Image.Image:
    c = Canvas(600, 800)
    studio_backdrop(c, *KEEPER_WALL)
    c.rect((246, 700, 292, 770), BOOT, radius=10)
    c.rect((308, 700, 354, 770), BOOT, radius=10)
    c.rect((252, 600, 290, 712), NAVY)
    c.rect((310, 600, 348, 712), NAVY)
    c.poly([(214, 330), (386, 330), (420, 650), (180, 650)], OILSKIN)
    c.poly([(214, 330), (180, 350), (160, 600), (196, 606), (226, 410)], OILSKIN_SHADE)
    c.poly([(386, 330), (420, 350), (440, 600), (404, 606), (374, 410)], OILSKIN_SHADE)
    c.circle((178, 612), 20, SKIN)
    c.circle((422, 612), 20, SKIN)
    c.line([(300, 420), (300, 646)], OILSKIN_SHADE, 4)  # back seam
    c.rect((282, 300, 318, 336), SKIN_SHADE)
    c.ellipse((300, 252), 64, 74, WHITE_HAIR)
    for i in range(9):
        c.ellipse((300, 312 + i * 28), 16, 18, HAIR_SHADE if i % 2 else WHITE_HAIR)
    c.rect((286, 566, 314, 576), RUBY, radius=3)
    c.ellipse((300, 194), 108, 24, OILSKIN_SHADE)
    c.ellipse((300, 176), 66, 48, OILSKIN)
    return c.finish()


def _lantern(c: Canvas, cx: float, handle_rx: float, knob: bool) -> None:
    c.arc((cx, 300), handle_rx, 130, 180, 360, (60, 60, 64), 7)  # wire handle
    c.rect((cx - 26, 262, cx + 26, 306), BRASS_DARK, radius=6)  # chimney
    c.poly([(cx - 90, 360), (cx - 40, 300), (cx + 40, 300), (cx + 90, 360)], BRASS)  # top cap
    c.rect((cx - 84, 360, cx + 84, 560), RUBY)  # ruby glass
    c.ellipse((cx, 462), 48, 78, (226, 60, 56))
    c.ellipse((cx, 470), 16, 30, (255, 214, 96))  # flame
    c.ellipse((cx, 478), 8, 16, (255, 250, 210))
    for dx in (-84, -28, 28, 84):  # guard wires
        c.line([(cx + dx, 360), (cx + dx, 560)], BRASS_DARK, 6)
    c.rect((cx - 100, 556, cx + 100, 622), BRASS, radius=12)  # fuel tank
    c.rect((cx - 100, 584, cx + 100, 594), BRASS_DARK)
    if knob:
        c.rect((cx + 96, 568, cx + 124, 584), BRASS_DARK, radius=4)  # wick knob
        c.circle((cx - 70, 556), 12, BRASS_DARK)  # filler cap


def lantern_front() -> Image.Image:
    c = Canvas(600, 800)
    c.bands(0, 800, [(28, 22, 26), (64, 44, 40), (30, 24, 26)], steps=16)
    c.glow((300, 450), 230, (150, 56, 50), (60, 42, 40))  # its red glow on the dark around it
    _lantern(c, 300, 86, knob=False)
    return c.finish()


def lantern_side() -> Image.Image:
    c = Canvas(600, 800)
    c.bands(0, 640, [(26, 24, 30), (58, 46, 44)], steps=12)
    c.glow((290, 450), 230, (150, 56, 50), (50, 40, 40))
    c.bands(622, 800, [(112, 70, 40), (60, 38, 22)], steps=5)  # a wooden table
    c.ellipse((290, 628), 130, 14, (70, 44, 26))  # the lantern's shadow
    _lantern(c, 290, 14, knob=True)
    return c.finish()


def skipper_front() -> Image.Image:
    c = Canvas(600, 800)
    studio_backdrop(c, *SKIPPER_WALL)
    c.rect((244, 700, 292, 770), (60, 50, 40), radius=10)
    c.rect((308, 700, 356, 770), (60, 50, 40), radius=10)
    c.rect((250, 590, 292, 712), (70, 70, 76))
    c.rect((308, 590, 350, 712), (70, 70, 76))
    c.poly([(206, 330), (394, 330), (404, 620), (196, 620)], NAVY)  # sweater
    c.poly([(206, 330), (172, 350), (156, 590), (192, 596), (220, 410)], NAVY)
    c.poly([(394, 330), (428, 350), (444, 590), (408, 596), (380, 410)], NAVY)
    c.circle((174, 604), 20, SKIN)
    c.circle((426, 604), 20, SKIN)
    c.poly([(222, 340), (286, 340), (286, 580), (214, 580)], VEST)  # life vest halves
    c.poly([(314, 340), (378, 340), (386, 580), (314, 580)], VEST)
    for y in (430, 500):
        c.rect((216, y, 286, y + 14), REFLECTIVE)
        c.rect((314, y, 384, y + 14), REFLECTIVE)
    c.rect((292, 400, 308, 560), (40, 40, 44))  # zip
    c.rect((282, 296, 318, 336), SKIN_SHADE)
    c.ellipse((300, 256), 56, 66, (112, 72, 42))  # hair
    c.ellipse((300, 266), 52, 62, SKIN)
    c.ellipse((300, 300), 40, 26, (196, 156, 124))  # stubble
    c.ellipse((300, 290), 40, 22, SKIN)
    for x in (280, 320):
        c.ellipse((x, 260), 7, 6, EYE)
        c.line([(x - 12, 244), (x + 12, 244)], (90, 56, 32), 5)
    c.line([(300, 264), (296, 288), (303, 290)], SKIN_SHADE, 3)
    c.line([(288, 306), (312, 306)], (150, 70, 70), 4)
    c.ellipse((300, 204), 62, 44, NAVY)  # knit cap and its fold
    c.rect((240, 204, 360, 236), (46, 58, 96), radius=8)
    for x in range(250, 360, 14):
        c.line([(x, 208), (x, 232)], NAVY, 3)
    return c.finish()


def skipper_side() -> Image.Image:
    c = Canvas(600, 800)
    studio_backdrop(c, *SKIPPER_WALL)
    c.rect((272, 590, 316, 712), (70, 70, 76))
    c.rect((262, 704, 340, 770), (60, 50, 40), radius=12)
    c.poly([(238, 330), (346, 330), (356, 620), (230, 620)], NAVY)
    c.poly([(230, 340), (352, 340), (360, 580), (226, 580)], VEST)
    for y in (430, 500):
        c.rect((228, y, 358, y + 14), REFLECTIVE)
    c.poly([(286, 350), (328, 346), (344, 584), (304, 590)], NAVY)  # near arm
    c.circle((326, 598), 20, SKIN)
    c.rect((282, 296, 320, 336), SKIN_SHADE)
    c.ellipse((292, 258), 56, 64, (112, 72, 42))
    c.ellipse((308, 266), 46, 60, SKIN)
    c.poly([(348, 254), (368, 282), (348, 288)], SKIN)
    c.ellipse((334, 258), 6, 5, EYE)
    c.line([(322, 244), (344, 244)], (90, 56, 32), 5)
    c.ellipse((316, 306), 30, 16, (196, 156, 124))
    c.line([(336, 306), (350, 304)], (150, 70, 70), 4)
    c.ellipse((298, 268), 10, 14, SKIN_SHADE)
    c.ellipse((298, 206), 60, 42, NAVY)
    c.rect((238, 206, 358, 236), (46, 58, 96), radius=8)
    return c.finish()


SEA_NIGHT = [(18, 26, 40), (40, 60, 84), (22, 34, 52)]
SKY_NIGHT = [(26, 32, 46), (72, 84, 104)]


def trawler_bow() -> Image.Image:
    c = Canvas(800, 600)
    c.bands(0, 360, SKY_NIGHT, steps=10)
    c.bands(360, 600, SEA_NIGHT, steps=8)
    c.line([(400, 60), (400, 250)], (200, 200, 200), 6)  # mast and masthead light
    c.line([(330, 120), (470, 120)], (200, 200, 200), 4)
    c.circle((400, 60), 10, (255, 236, 160))
    c.rect((320, 180, 480, 300), WHEELHOUSE, radius=8)  # wheelhouse, seen head-on
    c.rect((334, 198, 394, 240), (70, 110, 140), radius=4)
    c.rect((406, 198, 466, 240), (70, 110, 140), radius=4)
    c.rect((310, 170, 490, 184), (90, 90, 96))
    c.poly([(190, 280), (610, 280), (540, 420), (400, 470), (260, 420)], HULL)  # hull
    c.poly([(400, 280), (610, 280), (540, 420), (400, 470)], HULL_DARK)
    c.poly([(220, 330), (580, 330), (572, 346), (228, 346)], STRIPE)
    c.line([(400, 286), (400, 466)], (16, 40, 90), 4)  # stem
    c.rect((180, 268, 620, 284), (230, 230, 226))  # gunwale
    c.ellipse((400, 470), 230, 24, (70, 100, 130))  # bow wave
    c.ellipse((400, 480), 200, 14, SEA_NIGHT[1])
    return c.finish()


def trawler_side() -> Image.Image:
    c = Canvas(800, 600)
    c.bands(0, 360, SKY_NIGHT, steps=10)
    c.bands(360, 600, SEA_NIGHT, steps=8)
    c.line([(470, 70), (470, 250)], (200, 200, 200), 6)
    c.line([(470, 110), (640, 250)], (200, 200, 200), 3)  # stays and boom
    c.line([(470, 110), (180, 260)], (200, 200, 200), 3)
    c.line([(470, 200), (640, 220)], (170, 170, 170), 5)
    c.circle((470, 70), 10, (255, 236, 160))
    c.rect((400, 170, 560, 290), WHEELHOUSE, radius=6)
    for x in (412, 462, 512):
        c.rect((x, 190, x + 38, 230), (70, 110, 140), radius=4)
    c.rect((392, 160, 568, 174), (90, 90, 96))
    c.ellipse((250, 268), 42, 22, (120, 120, 110))  # net drum
    hull = [(90, 250), (720, 270), (680, 400), (150, 400)]
    c.poly(hull, HULL)
    c.poly([(110, 330), (700, 330), (692, 350), (120, 350)], STRIPE)
    c.rect((84, 242, 724, 262), (230, 230, 226))
    for x in (200, 300, 600):
        c.circle((x, 296), 9, (230, 230, 226))
    waves = [(0.0, 600.0), (0.0, 372.0)]
    waves += [(x, 372 + 8 * math.sin(x / 37)) for x in range(0, 801, 20)]
    c.poly([*waves, (800.0, 600.0)], SEA_NIGHT[1])  # the water in front of the hull
    c.bands(420, 600, SEA_NIGHT[1:], steps=6)
    c.line(waves[2:], (96, 126, 156), 4)
    c.ellipse((700, 378), 70, 12, (120, 150, 176))  # bow wash
    return c.finish()


def dawn_harbour() -> Image.Image:
    w, h, horizon = 1280, 720, 400
    c = Canvas(w, h)
    c.bands(0, horizon, [(120, 150, 200), (232, 170, 184), (252, 196, 146)], steps=18)
    c.glow((420, horizon), 150, (255, 236, 180), (250, 200, 150), rings=10)
    c.circle((420, horizon), 46, (255, 242, 200))
    c.bands(horizon, h, [(214, 160, 150), (96, 122, 160), (52, 78, 118)], steps=14)
    rng = random.Random(1953)
    for _ in range(90):  # sun glitter on the water
        y = horizon + 6 + rng.random() ** 2 * 240
        x = 420 + (rng.random() - 0.5) * (40 + (y - horizon) * 1.4)
        c.line([(x - 14, y), (x + 14, y)], (255, 226, 190), 3)
    # rocky point with the lighthouse
    c.poly(
        [(860, 430), (940, 360), (1020, 330), (1180, 320), (1280, 340), (1280, 520)], (58, 52, 60)
    )
    c.poly([(900, 420), (980, 380), (1100, 370), (1280, 400), (1280, 520)], (40, 36, 44))
    base, top = 330, 120
    stripes = 6
    for i in range(stripes):
        y0 = top + (base - top) * i / stripes
        y1 = top + (base - top) * (i + 1) / stripes
        half0 = 26 + 14 * i / stripes
        half1 = 26 + 14 * (i + 1) / stripes
        colour = (214, 44, 44) if i % 2 else (246, 244, 238)
        c.poly(
            [(1100 - half0, y0), (1100 + half0, y0), (1100 + half1, y1), (1100 - half1, y1)], colour
        )
    c.rect((1062, 112, 1138, 122), (40, 40, 44))  # gallery
    c.rect((1078, 76, 1122, 112), (255, 238, 170))  # lamp room, still lit
    for x in (1078, 1092, 1106, 1120):
        c.line([(x, 76), (x, 112)], (40, 40, 44), 3)
    c.poly([(1070, 78), (1100, 52), (1130, 78)], (190, 36, 36))
    c.poly([(1100, 92), (700, 46), (700, 124)], (240, 206, 200))  # the beam, fading at dawn
    # jetty and the moored trawler
    c.rect((600, 448, 900, 460), (110, 78, 52))
    for x in range(612, 900, 48):
        c.rect((x, 458, x + 8, 490), (80, 56, 38))
    c.line([(730, 412), (730, 452)], (220, 220, 220), 3)  # mast
    c.rect((700, 452, 760, 486), WHEELHOUSE, radius=3)
    for x in (706, 734):
        c.rect((x, 458, x + 20, 470), (70, 110, 140))
    c.poly([(620, 484), (830, 486), (814, 528), (640, 528)], HULL)
    c.rect((626, 496, 822, 504), STRIPE)
    c.line([(830, 490), (862, 458)], (60, 50, 40), 2)  # mooring line
    c.ellipse((726, 530), 110, 6, (70, 96, 138))  # its reflection
    # the keeper waving from the jetty
    c.poly([(856, 420), (872, 420), (878, 458), (850, 458)], OILSKIN)
    c.circle((864, 412), 8, SKIN)
    c.line([(872, 426), (886, 396)], OILSKIN, 5)
    c.ellipse((864, 405), 12, 4, OILSKIN_SHADE)
    for x, y in ((520, 160), (580, 130), (640, 180), (300, 110)):  # gulls
        c.line([(x - 14, y - 6), (x, y), (x + 14, y - 6)], (70, 70, 84), 3)
    return c.finish()


# --------------------------------------------------------------------------------------------
# Music bed: a slow minor chord progression over a swelling, filtered sea.

SAMPLE_RATE = 11025
MUSIC_SECONDS = 42.0


def _note(name: str) -> float:
    semitones = {"C": -9, "D": -7, "E": -5, "F": -4, "G": -2, "A": 0, "B": 2}
    return 440.0 * 2 ** ((semitones[name[0]] + 12 * (int(name[1]) - 4)) / 12)


def storm_swell() -> bytes:
    n = round(SAMPLE_RATE * MUSIC_SECONDS)
    t = np.arange(n) / SAMPLE_RATE
    chords = [("A2", "E3", "A3", "C4"), ("F2", "C3", "A3", "F4")]
    chords += [("C3", "G3", "C4", "E4"), ("G2", "D3", "G3", "B3")]
    chord_len = MUSIC_SECONDS / 8
    pad = np.zeros(n)
    for k in range(8):
        centre = (k + 0.5) * chord_len
        env = np.clip(1 - np.abs(t - centre) / chord_len, 0, 1)  # overlapping triangle swells
        env = np.sin(env * math.pi / 2) ** 2
        for j, name in enumerate(chords[k % 4]):
            f = _note(name)
            voice = np.sin(2 * math.pi * f * t) + 0.3 * np.sin(2 * math.pi * 2.003 * f * t)
            pad += env * voice * (0.30 if j == 0 else 0.18)
    rng = np.random.default_rng(1953)
    noise = rng.random(n) * 2 - 1
    window = 64
    kernel = np.ones(window) / window
    sea = np.convolve(noise, kernel, mode="same") * 6  # low-passed: a distant surf
    sea *= 0.55 + 0.45 * np.sin(2 * math.pi * t / 7.0) ** 2
    mixed = pad * 0.8 + sea * 0.5
    fade_in = np.clip(t / 2.5, 0, 1)
    fade_out = np.clip((MUSIC_SECONDS - t) / 4.0, 0, 1)
    mixed *= fade_in * fade_out
    mixed *= 0.6 / float(np.max(np.abs(mixed)))
    samples = np.round(mixed * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(samples.tobytes())
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# The catalogue and the writer / checker


def widescreen(draw: Callable[[], Image.Image]) -> Callable[[], Image.Image]:
    """A character or prop sheet on a 16:9 page, the film's own shape: the drawing in the
    middle, the sides in its background colour. ``check`` warns when an element image's shape
    is more than 10% off the film's (the model frames what it sees of it)."""

    def make() -> Image.Image:
        sheet = draw().convert("RGB")
        width, height = round(sheet.height * 16 / 9), sheet.height
        left = (width - sheet.width) // 2
        right = width - sheet.width - left
        page = Image.new("RGB", (width, height))
        # each row's edge colour carried out to the page's edges: the backdrop goes on
        page.paste(sheet.crop((0, 0, 1, height)).resize((left, height)), (0, 0))
        page.paste(sheet.crop((sheet.width - 1, 0, sheet.width, height)).resize((right, height)),
                   (left + sheet.width, 0))  # fmt: skip
        page.paste(sheet, (left, 0))
        return page.quantize(
            PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )

    return make


@dataclass(frozen=True)
class Asset:
    path: str  # relative to examples/
    make: Callable[[], Image.Image | bytes]


ASSETS: tuple[Asset, ...] = (
    Asset("lighthouse/cast/images/keeper-front.png", widescreen(keeper_front)),
    Asset("lighthouse/cast/images/keeper-side.png", widescreen(keeper_side)),
    Asset("lighthouse/cast/images/keeper-back.png", widescreen(keeper_back)),
    Asset("lighthouse/cast/images/lantern-front.png", widescreen(lantern_front)),
    Asset("lighthouse/cast/images/lantern-side.png", widescreen(lantern_side)),
    Asset("lighthouse/assets/skipper-front.png", widescreen(skipper_front)),
    Asset("lighthouse/assets/skipper-side.png", widescreen(skipper_side)),
    Asset("lighthouse/assets/trawler-bow.png", widescreen(trawler_bow)),
    Asset("lighthouse/assets/trawler-side.png", widescreen(trawler_side)),
    Asset("lighthouse/assets/frames/dawn-harbour.png", dawn_harbour),
    Asset("lighthouse/assets/music/storm-swell.wav", storm_swell),
)


def encode(made: Image.Image | bytes) -> bytes:
    if isinstance(made, bytes):
        return made
    out = io.BytesIO()
    made.save(out, format="PNG", optimize=True)
    return out.getvalue()


def same_content(path: Path, wanted: bytes) -> bool:
    """Whether the file at ``path`` holds what ``wanted`` encodes (pixels, or audio samples)."""
    if not path.is_file():
        return False
    have = path.read_bytes()
    if have == wanted:
        return True
    if path.suffix == ".wav":
        return _same_audio(have, wanted)
    try:
        with Image.open(io.BytesIO(have)) as a, Image.open(io.BytesIO(wanted)) as b:
            if a.size != b.size:
                return False
            same: bool = a.convert("RGB").tobytes() == b.convert("RGB").tobytes()
            return same
    except OSError:
        return False


def _same_audio(have: bytes, wanted: bytes) -> bool:
    """Same format and samples within one step (sin() may round differently on another CPU)."""
    try:
        with wave.open(io.BytesIO(have)) as a, wave.open(io.BytesIO(wanted)) as b:
            if a.getparams()[:3] != b.getparams()[:3] or a.getnframes() != b.getnframes():
                return False
            x = np.frombuffer(a.readframes(a.getnframes()), dtype="<i2").astype(np.int32)
            y = np.frombuffer(b.readframes(b.getnframes()), dtype="<i2").astype(np.int32)
    except (wave.Error, EOFError):
        return False
    return bool(np.max(np.abs(x - y), initial=0) <= 1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if any asset is missing or differs from what would be written",
    )
    args = parser.parse_args(argv)
    stale: list[str] = []
    for asset in ASSETS:
        path = EXAMPLES / asset.path
        data = encode(asset.make())
        if args.check:
            if not same_content(path, data):
                stale.append(asset.path)
            continue
        if path.is_file() and path.read_bytes() == data:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"wrote examples/{asset.path} ({len(data):,} bytes)")
    if stale:
        for name in stale:
            print(f"stale or missing: examples/{name}", file=sys.stderr)
        print("run: python scripts/make_example_assets.py", file=sys.stderr)
        return 1
    if args.check:
        print(f"all {len(ASSETS)} example assets are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
