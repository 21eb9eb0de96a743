"""The PySide6 kiosk. Only this package imports Qt; it presents a `scanner.session.Session`.

    cli.py     `checkpoint kiosk` and `checkpoint demo`
    app.py     KioskApp: owns the pipeline, presents the Session, wires both to the window by signals;
               build_core and build_kiosk from the settings
    demo.py    the kiosk demo on a generated world with a synthetic camera and a local hub
    sound.py   pass, stop and alert sounds (sounds/*.wav)
    model/     what is shown and remembered, without Qt
    widgets/   the Qt widgets that paint it
"""
