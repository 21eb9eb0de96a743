"""What the kiosk shows and remembers, decided without Qt (tests/test_layering.py forbids Qt here).

    view.py     ResultView, GroupView, result_view, group_view: colour, icon and every line of a result
    status.py   the status bar's chips and the idle screen's banners from a `scanner.status.StatusSnapshot`
    pinauth.py  PinGate: admin PIN attempts with lock-out (pin-lockout.json)
    prefs.py    KioskPrefs: venue profile, volume and mute chosen on site (kiosk-prefs.json)
    exports.py  usb_stick: a mounted USB stick for exports, from /proc/mounts
"""
