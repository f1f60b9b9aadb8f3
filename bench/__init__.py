"""Benchmarks (not tests): each module runs as ``python -m bench.<name>`` and prints its figures
next to a baseline measured in the same run. See bench/README.md for the recorded results."""
