"""Benchmarks that print figures: each goal beside its figure, as a ratio to a floor measured in the same run
where one exists, on all cores and then pinned to one (cores.py). Run one as `python -m bench.NAME --help`.
No benchmark is a test: nothing here asserts a time.
"""
