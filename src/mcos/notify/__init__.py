"""Notify channels: how Mission Control reaches the operator (mail, webhook, Telegram).

``content`` turns an event into what a person reads; ``email``, ``webhook`` and ``telegram``
send it; ``dispatcher`` runs in the control plane and records every attempt through
:mod:`mcos.services.notify`. Invariants in ``README.md`` beside this file.
"""
