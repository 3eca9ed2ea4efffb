"""The repository's own tooling, beside the collection and not shipped with it: the CI phase table
(scripts/phases.py), the compiled-code cache (scripts/zipimport_cache.py), the order of the integration
modules, the staging app's probe and traffic (demo/), and what the Galaxy tarball holds. The collection's
own unit tests are tests/unit, run by `ansible-test units` on the tarball's contents (make unit)."""
