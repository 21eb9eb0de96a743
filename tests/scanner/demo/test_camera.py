"""The demo's camera: every scene it shows is read, from its pixels, while it is shown."""

from __future__ import annotations

from typing import Any

from scanner.demo.camera import demo_camera, demo_scenes, family_codes
from scanner.qr.decoder import FrameDecoder

# Fixed placements: the demo draws a fresh one per scene from its seed (the time, modulo 1000).
SEEDS = (0, 14, 41, 115, 999)


def test_every_scene_is_read_while_it_is_shown(world: Any) -> None:
    scenes = demo_scenes(world, family_codes(world))
    unread = []
    for seed in SEEDS:
        cam = demo_camera(scenes, seed=seed, paced=False)
        period = cam.show_frames + cam.gap_frames
        decoder = FrameDecoder()  # the pipeline's, in camera mode: frame after frame, fallbacks in turn
        for i, scene in enumerate(scenes):
            read: set[str] = set()
            for index in range(i * period, i * period + cam.show_frames):
                read |= {c.text for c in decoder.decode(cam.image(index))}
                if read >= set(scene):
                    break
            assert read <= set(scene)  # nothing else is ever read
            if read != set(scene):
                unread.append((seed, i, len(read), len(scene)))
            assert not decoder.decode(cam.image(i * period + cam.show_frames))  # the gap after it
    assert unread == []
