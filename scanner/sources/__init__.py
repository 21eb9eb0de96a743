"""Where payloads come from: frame sources (camera.py, synthetic.py) and text sources (scanners.py).

    camera.py     Frame, the FrameSource protocol (open, read, close, name, live), OpenCVSource (USB and
                  V4L2 cameras), Picamera2Source, FileSource (image, folder, video), SyntheticSource, and
                  source_from_spec, which builds any source from a `--source`/`camera.source` spec
    scanners.py   hardware 2D scanners that send text: ScannedText, SerialScannerSource, LineSource
                  (stdin, a file), WedgeBuffer and WedgeSource (keyboard wedge)
    synthetic.py  QR codes drawn on phones and cards in gate scenes, with their true corners

A source that fails raises `scanner.errors.CameraError`; `scanner.pipeline` reopens it with backoff.
"""
