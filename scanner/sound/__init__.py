"""Tones and spoken prompts for the kiosk and the headless gate, and knowing when nothing is heard. No Qt.

    prompts.py  Cue (a tone and words), the words per profile outcome (the screen's headline, spoken),
                the fixed prompts (show your code, already checked, already admitted)
    voice.py    CueCache: a tone and espeak-ng speech in one WAV per cue, cached in the data dir's voice/
    player.py   Announcer (play, volume, mute, problem), AplayPlayer (probed, watched), SilentPlayer,
                RecordingPlayer; `open_announcer` builds the one the settings ask for
    tones/      pass, stop, alert, repeat (scripts/make_sounds.py)
"""
