"""The kiosk's Qt widgets. They only paint what `ui.model` computed and report input through signals.

    window.py     KioskWindow: the top-level window (page stack and status bar, one screen per person,
                  family tiles, which decision shows when, notes); the three mixins below are its parts
    inputs.py     KioskInput: keys and touches (guard keypad, wedge scanner bursts, holds, long presses)
    guard.py      GuardControls: a guard alert until acknowledged (hold, key, PIN), a manual check's Admit/Deny
    access.py     AdminAccess: the way into the PIN pad and admin panel, and back to scanning when idle
    guardkeys.py  GuardKeys: the guard's keys from `[display]`, as Qt names them
    screens.py    IdleScreen, ResultScreen (shrinks a crowded screen to fit)
    panels.py     Tile (a family member), PharmacyPanel (drug toggles, Register), GuardBar (Admit/Deny)
    parts.py      scaled text, the drawn result icon, the camera preview, the status bar
    admin.py      PinPage and AdminPage
"""
