"""Where payloads come from: camera frames to decode, or text a hardware scanner already decoded.

    base.py       Frame, ScannedText, the FrameSource and TextSource protocols (name, live, open, read,
                  close; `Source` is either), Pacer, IMAGE_SUFFIXES
    camera.py     OpenCVSource (USB and V4L2 cameras), Picamera2Source (the Pi camera, imported lazily)
    files.py      FileSource: still images, folders of images, video files
    synthetic.py  QR codes drawn on phones and cards in gate scenes, with their true corners; SyntheticSource
    scanners.py   hardware 2D scanners: SerialScannerSource, LineSource (stdin, a file), WedgeBuffer and
                  WedgeSource (keyboard wedge)
    spec.py       source_from_spec: any source from a `--source`/`camera.source` spec

A source that fails raises `scanner.errors.SourceError`; `scanner.pipeline` reopens it with backoff.
"""
