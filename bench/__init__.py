"""Herald's benchmark suite: ``python -m bench`` (see ``docs/performance.md``).

Not part of the test suite: a benchmark measures, it never fails on a slow machine.
"""
