"""The appliance core: from a scanned payload or a camera frame to a decision and a logged visit. No Qt.

Read first. What lives where (docs/architecture.md has the whole system):

    errors.py    CheckpointError; InputError/ConfigError (bad input) apart from EnvironmentFailure
                 (SourceError, StorageError: the world failing)
    config.py    Settings: one typed, validated object from TOML (load_settings)
    settingchecks.py  checks of single settings beyond type and range (hub URL, PIN hash, sources, outputs)
    clock.py     Clock protocol, SystemClock, FixedClock, TrustedClock (clock.json, hub-confirmed time)
    timesync.py  trust without a hub: systemd's NTP synchronisation, polled while the clock is untrusted
    pin.py       the admin PIN's scrypt hash
    codes/       payload formats: HCC1 behind one interface (decode_payload); the EU DCC decoder (dcc.py)
                 and its vendored JSON schema (dccschema.py, schema/)
    verify.py    verify_code -> VerifyResult: the checks of docs/format.md §5, in order
    dcc.py       verify_dcc: EU DCC (HC1:) checks against the trust list's DSCs, same VerifyResult
    rules/       business rules: CertLogic, EU-format rules, the signed rules list, applied after verify
    policy.py    VenueProfile, decide -> Decision (admit, tone, words); profiles/ holds the built-in venues
    checker.py   Checker: stores, profile, settings and clock bound together; check(payload) -> Decision
    sources/     where payloads come from: cameras, files, synthetic scenes, hardware scanners
    qr/          pixels -> QR symbols (zxing-cpp, zbar, the frame strategy)
    pipeline.py  Pipeline: sources -> qr -> checker -> events, on threads of its own
    events.py    what the pipeline reports: DecisionEvent, RepeatEvent, SourceEvent, ErrorEvent
    session.py   Session: decisions in, visits logged, counts and status out
    gate/        around a decision at a real gate: turnstile outputs, repeats and anti-passback, families
    status.py    StatusSnapshot: the device's state at a glance
    storage/     the data directory (DataDir, open_stores), the visit log, its row and hash chain (the
                 device<->hub contract), the sync state file
    sound/       tones and spoken prompts (espeak-ng, cached), aplay, and knowing when nothing is heard
    service/     running under systemd: sd_notify, watchdog, structured logs
    cli/         the `checkpoint` command; sub-commands come from entry points
    demo/        a generated world of keys, lists and sample codes for the demo, tests and benchmarks

Dependencies point one way: this package imports `keys` and never `sync` or `ui`, not even by name in a
string (tests/test_layering.py). Clocks, stores and hardware are passed in, so the checking path is pure.
"""
