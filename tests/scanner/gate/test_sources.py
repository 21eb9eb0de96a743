"""Which sources the headless gate reads by default, and the one rule for "this device has no camera"."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.cli.config import cmd_check
from scanner.config import load_settings
from scanner.gate.runner import default_sources
from scanner.sources.spec import no_camera
from tests.helpers import REPO


@pytest.mark.parametrize("spec", ["none", "", "NONE", " none "])
def test_no_camera_spellings(spec: str) -> None:
    assert no_camera(spec)


@pytest.mark.parametrize("spec", ["camera:0", "v4l2:/dev/video0", "picamera", "nonexistent"])
def test_a_camera_spec_is_a_camera(spec: str) -> None:
    assert not no_camera(spec)


def test_a_scanner_only_config_is_accepted_and_reads_the_scanner(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    example = (REPO / "config.example.toml").read_text()
    assert '"none" (or ""): no camera' in example  # documented where the deployment engineer looks
    text = example.replace('source = "camera:0"', 'source = "none"', 1).replace(
        'serial_port = ""', 'serial_port = "/dev/ttyACM0"', 1).replace(
        "anchors = []", 'anchors = ["/etc/checkpoint/anchor.pem"]', 1)
    cfg = tmp_path / "counter.toml"
    cfg.write_text(text)
    assert cmd_check(argparse.Namespace(files=[str(cfg)], files_exist=False)) == 0
    assert capsys.readouterr().out == f"{cfg}: ok\n"
    assert default_sources(load_settings(cfg)) == ["serial:/dev/ttyACM0@9600"]

