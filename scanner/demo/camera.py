"""The kiosk demo's synthetic camera: every sample code (and a family of three) held up in turn, as a real
camera at a gate would show it, so that each scene is read while it is shown.

`scanner.sources.synthetic`'s default `Distortion` is the decoder's test corpus: every hard case, some
of them together beyond what the camera decoder reads (a glare spot over a finder pattern of a dim screen; the
smallest modules with the most blur, a dim screen, noise and JPEG). The demo holds each drawn placement
still for its whole showing, drifting a few pixels, where a person at a gate tilts the code out of a
glare and brings it nearer the reader within a second. So the demo's scenes have no glare spot, modules
of at least 3 px at 640 px (a phone or card held at the reader, not at arm's length), a contrast of at
least half the full range (a printed card, a screen at a usable brightness) and focus within a quarter
module: the family's three codes share the frame at about 2.3 px a module, where the corpus's dimmest,
blurriest screens leave one unread.
Rotation, perspective, noise, dark mode and JPEG are the corpus's.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from scanner.demo.world import DemoWorld
from scanner.sources.synthetic import Distortion, SyntheticSource

DEMO_DISTORTION = Distortion(module_px=(3.0, 5.0), blur=(0.0, 0.25), contrast=(0.5, 1.0), glare=0.0)


def family_codes(world: DemoWorld) -> list[str]:
    """A parent and two children (codes shown by the parent): three codes in one frame."""
    from keys.hcc1 import CodeClaims, issue_code

    key = world.issuers["CN-ZJ"]
    now = world.now
    parent_sub = os.urandom(16)
    out = [issue_code(key, CodeClaims(iss="CN-ZJ", iat=now - 3600, exp=now + 82800, name="李*华"))]
    for child in ("李*明", "李*月"):
        out.append(issue_code(key, CodeClaims(iss="CN-ZJ", iat=now - 3600, exp=now + 82800, name=child,
                                              guardian=("李*华", 1, parent_sub))))
    return out


def demo_scenes(world: DemoWorld, family: list[str]) -> list[list[str]]:
    """What the demo shows, in order: every sample code alone, then the family's three codes in one frame."""
    return [[s.payload] for s in world.samples.values()] + [family]


def demo_camera(scenes: Sequence[Sequence[str]], *, seed: int, scene_seconds: float = 2.5, fps: float = 15.0,
                paced: bool = True) -> SyntheticSource:
    """Each scene shown for about 60% of `scene_seconds` (at least 3 frames), then a gap without a code.
    `paced`: frames come at `fps`, like a camera; else as fast as they are read (tests)."""
    show = max(3, round(scene_seconds * fps * 0.6))
    gap = max(3, round(scene_seconds * fps) - show)
    return SyntheticSource([list(s) for s in scenes], fps=fps if paced else None, show_frames=show,
                           gap_frames=gap, seed=seed, distortion=DEMO_DISTORTION)
