"""Benchmarks (`make bench`): not part of the shipped apps nor of `make test`."""
