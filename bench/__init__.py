"""Benchmarks: each measures our code and the obvious alternative in the same run (``make bench``)."""
