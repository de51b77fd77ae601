"""The harness: its core and its orchestration.

Core (imports no plugin package; ``tests/test_architecture.py`` checks it): registry, configs, weights, cache,
results store, image I/O (``imageio``), atomic writes / JSON / hashes (``files``), device resolution, provenance,
run configs. Orchestration (drives the plugins through the registries): ``runner``, ``stages``, ``scoring``,
``cli``, ``profile``.
"""
