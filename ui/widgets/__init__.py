"""The kiosk's Qt widgets. They only paint what `ui.model` computed and report input through signals.

    window.py   KioskWindow: the top-level window (idle and result screens, family grouping, guard alert,
                admin access, key forwarding)
    screens.py  IdleScreen, ResultScreen
    parts.py    scaled text, the drawn result icon, the camera preview, the status bar
    admin.py    PinPage and AdminPage
"""
