"""Frame sources: files, folders, videos and synthetic scenes for real; cameras through injected fakes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from scanner.errors import InputError, SourceError
from scanner.qr.decoder import FrameDecoder
from scanner.sources.camera import OpenCVSource, Picamera2Source
from scanner.sources.files import FileSource
from scanner.sources.scanners import LineSource, SerialScannerSource
from scanner.sources.spec import source_from_spec
from scanner.sources.synthetic import SyntheticSource, render_qr
from tests.helpers.fakes import FakeCamera
from tests.helpers.payloads import fresh_payloads


@pytest.fixture(scope="module")
def payloads() -> list[str]:
    return fresh_payloads(3)


def _card(payload: str) -> np.ndarray:
    img = np.full((360, 480), 230, np.uint8)
    code = render_qr(payload, module_px=4)
    img[10:10 + code.shape[0], 100:100 + code.shape[1]] = code
    return img


def _drain(src) -> list:
    src.open()
    out = []
    try:
        while (frame := src.read()) is not None:
            out.append(frame)
    finally:
        src.close()
    return out


def test_folder_source_gives_every_image_in_name_order_and_skips_unreadable_files(tmp_path, payloads):
    for i, p in enumerate(payloads):
        cv2.imwrite(str(tmp_path / f"{i:02d}.png"), _card(p))
    (tmp_path / "01b.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "notes.txt").write_text("ignored")
    frames = _drain(FileSource(tmp_path))
    assert [f.origin.rsplit("/", 1)[-1] for f in frames] == ["00.png", "01.png", "02.png"]
    assert [f.index for f in frames] == [1, 2, 3]
    stamps = [f.timestamp for f in frames]
    assert stamps == sorted(stamps)
    decoder = FrameDecoder()
    assert [decoder.decode(f.image)[0].text for f in frames] == payloads


def test_a_looping_folder_takes_in_images_added_and_removed_while_it_runs(tmp_path, payloads):
    # A folder as a drop box: each pass over it reads what is there now.
    cv2.imwrite(str(tmp_path / "00.png"), _card(payloads[0]))
    src = FileSource(tmp_path, loop=True)
    src.open()
    try:
        first = src.read()
        cv2.imwrite(str(tmp_path / "01.png"), _card(payloads[1]))
        names = [f.origin.rsplit("/", 1)[-1] for f in (src.read(), src.read()) if f is not None]
        (tmp_path / "00.png").unlink()
        later = [f.origin.rsplit("/", 1)[-1] for f in (src.read(), src.read()) if f is not None]
        (tmp_path / "01.png").unlink()
        with pytest.raises(InputError, match="no images in this folder"):
            src.read()
    finally:
        src.close()
    assert first is not None and first.origin.endswith("00.png")
    assert names == ["00.png", "01.png"]
    assert later == ["01.png", "01.png"]


def test_image_source_loops_and_paces_like_a_camera(tmp_path, payloads):
    path = tmp_path / "card.png"
    cv2.imwrite(str(path), _card(payloads[0]))
    src = FileSource(path, fps=200, loop=True)
    assert src.live
    src.open()
    frames = [src.read() for _ in range(5)]
    src.close()
    assert all(f is not None and f.image.shape == (360, 480) for f in frames)
    stamps = [f.timestamp for f in frames if f is not None]
    assert stamps == sorted(stamps)
    assert src.read() is None  # closed: a paced source stops handing out frames
    once = FileSource(path)
    assert not once.live and len(_drain(once)) == 1


def test_video_source_reads_every_frame_then_ends_or_loops(tmp_path, payloads):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (480, 360))
    assert writer.isOpened()
    for _ in range(4):
        writer.write(cv2.cvtColor(_card(payloads[1]), cv2.COLOR_GRAY2BGR))
    writer.release()
    frames = _drain(FileSource(path))
    assert len(frames) == 4 and frames[0].image.ndim == 2
    assert FrameDecoder().decode(frames[-1].image)[0].text == payloads[1]
    looping = FileSource(path, kind="video", loop=True)
    looping.open()
    assert all(looping.read() is not None for _ in range(9))
    looping.close()


def test_file_source_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        FileSource(tmp_path / "missing.png").open()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no images"):
        FileSource(empty).open()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(InputError, match="not a video"):
        FileSource(bad).open()


def test_synthetic_source_shows_its_schedule_and_is_deterministic(payloads):
    def run(seed: int) -> list[np.ndarray]:
        return [f.image for f in _drain(SyntheticSource(payloads[:2], fps=None, show_frames=3, gap_frames=2,
                                                        frames=10, seed=seed))]

    a, b = run(5), run(5)
    assert len(a) == 10 and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    src = SyntheticSource(payloads[:2], fps=None, show_frames=3, gap_frames=2, frames=10, seed=5)
    decoder = FrameDecoder()
    for i, image in enumerate(a):
        assert [c.text for c in decoder.decode(image, thorough=True)] == src.scene_at(i)
    assert src.scene_at(0) == [payloads[0]] and src.scene_at(3) == [] and src.scene_at(5) == [payloads[1]]


def test_opencv_source_sets_up_the_capture_and_reports_unplugging(payloads):
    cam = FakeCamera(cv2.cvtColor(_card(payloads[0]), cv2.COLOR_GRAY2BGR))
    src = OpenCVSource(0, width=1280, height=720, fps=15, capture_factory=cam.factory)
    src.open()
    frame = src.read()
    assert frame is not None and frame.image.shape == (360, 480, 3) and frame.origin == "camera:0"
    assert cam.captures[0].props[cv2.CAP_PROP_FRAME_WIDTH] == 1280
    assert cam.captures[0].props[cv2.CAP_PROP_BUFFERSIZE] == 1
    cam.plugged.clear()
    with pytest.raises(SourceError, match="stopped delivering"):
        src.read()
    assert not cam.captures[0].opened  # released, so the device can be opened again
    with pytest.raises(SourceError, match="could not be opened"):
        src.open()
    cam.plugged.set()
    src.open()
    assert src.read() is not None
    src.close()


def test_picamera_source_without_picamera2_is_a_clear_camera_error():
    try:
        import picamera2  # noqa: F401
    except ImportError:
        with pytest.raises(SourceError, match="Picamera2"):
            Picamera2Source().open()
    else:  # pragma: no cover - only on Raspberry Pi OS
        pytest.skip("hardware-only: on Raspberry Pi OS Picamera2 is installed, so the missing-library error "
                    "this test checks cannot occur (the fake-camera tests below still run)")


class FakePicamera2:
    """The slice of Picamera2's interface the source uses; YUV420 with a padded stride."""

    def __init__(self, y: np.ndarray, fail: bool = False):
        self.y, self.fail, self.config = y, fail, None
        self.started = self.stopped = False

    def create_video_configuration(self, **kw):
        return kw

    def configure(self, config):
        self.config = config

    def start(self):
        if self.fail:
            raise RuntimeError("Camera __init__ sequence did not complete")
        self.started = True

    def capture_array(self, stream):
        h, w = self.y.shape
        arr = np.full((h * 3 // 2, w + 64), 128, np.uint8)
        arr[:h, :w] = self.y
        return arr

    def stop(self):
        self.stopped = True

    def close(self):
        pass


def test_picamera_source_takes_the_y_plane(payloads):
    y = _card(payloads[2])
    cam = FakePicamera2(y)
    src = Picamera2Source(width=480, height=360, camera_factory=lambda: cam)
    src.open()
    assert cam.config["main"] == {"size": (480, 360), "format": "YUV420"}
    frame = src.read()
    assert frame is not None and np.array_equal(frame.image, y)
    assert FrameDecoder().decode(frame.image)[0].text == payloads[2]
    src.close()
    assert cam.stopped
    with pytest.raises(SourceError, match="could not be started"):
        Picamera2Source(camera_factory=lambda: FakePicamera2(y, fail=True)).open()


class FakeColourPicamera2(FakePicamera2):
    def capture_array(self, stream):
        h, w = self.y.shape
        arr = np.zeros((h, w + 32, 4), np.uint8)
        arr[:h, :w, :3] = self.y[:, :, None]
        return arr


def test_picamera_colour_formats_give_bgr_frames(payloads):
    y = _card(payloads[0])
    cam = FakeColourPicamera2(y)
    src = Picamera2Source(width=480, height=360, format="XRGB8888", camera_factory=lambda: cam)
    src.open()
    frame = src.read()
    assert frame is not None and frame.image.shape == (360, 480, 3)
    assert FrameDecoder().decode(frame.image)[0].text == payloads[0]
    src.close()
    with pytest.raises(InputError, match="not one of"):
        Picamera2Source(format="MJPEG")


def test_source_specs(tmp_path):
    assert isinstance(source_from_spec("camera:2"), OpenCVSource)
    assert source_from_spec("v4l2:/dev/video4").name == "v4l2:/dev/video4"
    assert isinstance(source_from_spec("picamera"), Picamera2Source)
    assert source_from_spec(f"dir:{tmp_path}").kind == "dir"
    assert source_from_spec(f"file:{tmp_path / 'a.png'}").kind == "image"
    assert source_from_spec(f"video:{tmp_path / 'a.mp4'}", replay_fps=30).live
    serial = source_from_spec("serial:/dev/ttyACM0@115200")
    assert isinstance(serial, SerialScannerSource) and serial.baud == 115200
    assert isinstance(source_from_spec("stdin"), LineSource)
    assert source_from_spec("synthetic", payloads=["HCC1:ABC"]).name == "synthetic"
    for bad in ("webcam", "camera:x", "serial:/dev/ttyS0@fast", "synthetic", "file:"):
        with pytest.raises(InputError):
            source_from_spec(bad)
