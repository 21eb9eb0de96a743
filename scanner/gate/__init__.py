"""The gate: what happens around a decision at a real gate. No Qt; the kiosk and the headless gate share it.

    output.py    gate outputs (gpio:PIN through gpiozero, serial:PORT relay boards): pulses that never block
    control.py   Gate: which decisions open the turnstile or pulse the red lamp; GateAction events
    repeats.py   repeat scans (debounce note) and anti-passback (own visit log + the site's feed)
    grouping.py  FamilyGrouper: one code, one screen; families only from one frame or the family key
    shown.py     Shown: one decision on its way to the screen and the turnstile; AckResult
    counts.py    Tally/Counts: admitted, refused, manual checks, repeats, acknowledgements today
    texts.py     words for the guard's decisions and a code's age ("issued 3 min ago")
    heldfiles.py HeldFiles: the session's reload of what the sync agent replaced; the status snapshot
    build.py     build_session: settings -> stores, clock, checker, gate, Session
    player.py    sounds without Qt: tones (and spoken prompts when present) through aplay
    runner.py    GateRunner: `checkpoint gate`, the screenless appliance (sources -> decisions -> gate)
"""
