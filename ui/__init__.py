"""The PySide6 kiosk. Only this package imports Qt; it presents a `scanner.session.Session`.

    cli.py     `checkpoint kiosk` and `checkpoint demo`
    app.py     KioskApp: owns the pipeline, presents the Session, wires both to the window by signals;
               build_core and build_kiosk from the settings
    preview.py PreviewTap: a few frames a second of each camera to the window's preview
    demo.py    the kiosk demo on a generated world with a synthetic camera and a local hub
    sound.py   the core's Announcer (tones and voice, scanner/sound) on QtMultimedia, else aplay
    tour.py    every screen in turn at one size: the screenshots and the layout test
    model/     what is shown and remembered, without Qt
    widgets/   the Qt widgets that paint it
"""
