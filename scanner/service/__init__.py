"""Running under systemd.

    sdnotify.py  READY, WATCHDOG, STATUS, STOPPING notifications; cheap no-ops outside systemd
    watchdog.py  Watchdog (ping only while frames flow and the pipeline lives) and Heartbeat (the
                 kiosk's once-a-second tick: watchdog, trusted clock, status line)
    logsetup.py  structured logfmt/JSON log lines for journald, with personal data redacted
"""
