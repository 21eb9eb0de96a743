"""A generated health-code world for the demo, the tests and the benchmarks. No Qt, no hub.

    world.py    build_demo_world: a national root, two regions and the national issuer, a signed trust
                list, signed status lists and one sample code of every kind
    session.py  demo_core: a `scanner.session.Session` on that world; decide_now
    table.py    run_table: `checkpoint demo --table`, every sample code decided and printed
    camera.py   demo_camera: the kiosk demo's synthetic camera, every scene one a gate camera would give

The kiosk demo (`checkpoint demo`) and the demo's local hub build on these.
"""
