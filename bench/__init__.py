"""Harness core: registry, configs, weights, cache, runner stages, results store, provenance and CLI."""
