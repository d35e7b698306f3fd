"""Deterministic doubles that ship with mcos: fake model APIs at the wire.

Import from :mod:`mcos.testing.fake_providers` (``FakeProviderServer``); this package imports
nothing itself so ``python -m mcos.testing.fake_providers`` runs cleanly.
"""
