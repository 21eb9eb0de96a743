"""Pixels to QR symbols: raw bytes, text and corner polygon of every QR code in a frame or image.

    engines.py  ZxingDecoder and ZbarDecoder (QR only, exact bytes, corners in input pixels) and the
                symbol type QrSymbol
    glance.py   where a code may be: code_evidence and glance (code-like patches), Glance.regions (the
                boxes the camera's passes read)
    passes.py   the decoding passes (engines with image clean-up), what each is assumed to cost, and running
                one on part of a frame
    decoder.py  FrameDecoder: the frame strategy (a glance for code-like evidence, the fast pass, fallback
                passes in turn, each on the box around the evidence; every pass for still images);
                decode_image, decode_file (every frame of an animation)
    stills.py   read_image, read_frames: image files as grayscale pixels (size checked from the header
                first, transparency given a background)
    images.py   read_image_payloads, for `checkpoint check --image`
"""
