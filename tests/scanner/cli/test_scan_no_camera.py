"""`checkpoint scan` on a device whose config says it has no camera."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_scan_on_a_device_without_a_camera_asks_for_a_source(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from scanner.cli import main

    cfg = tmp_path / "counter.toml"
    cfg.write_text('[camera]\nsource = "none"\n')
    code = main(["scan", "--config", str(cfg), "--frames", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "camera.source is 'none' (this device has no camera)" in err and "--source" in err
    assert str(cfg) in err and "Traceback" not in err


def test_an_explicit_source_of_none_is_named_as_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    from scanner.cli import main

    code = main(["scan", "--source", "none", "--frames", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "--source 'none': no camera" in err and "camera.source" not in err
