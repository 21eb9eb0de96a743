"""The kiosk's Qt widgets. They only paint what `ui.model` computed and report input through signals.

    window.py     KioskWindow: the top-level window (idle and result screens, one screen per person,
                  family tiles, guard alert and acknowledgement, Admit/Deny, notes, admin access)
    inputs.py     KioskInput: keys and touches (guard keypad, wedge scanner bursts, holds, long presses)
    guardkeys.py  GuardKeys: the guard's keys from `[display]`, as Qt names them
    screens.py    IdleScreen, ResultScreen (shrinks a crowded screen to fit)
    panels.py     Tile (a family member), PharmacyPanel (drug toggles, Register), GuardBar (Admit/Deny)
    parts.py      scaled text, the drawn result icon, the camera preview, the status bar
    admin.py      PinPage and AdminPage
"""
