"""Actor identity: recorded with every game, so replicas must never share one."""

from __future__ import annotations

import re
import secrets
import socket

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def actor_id(configured: str = "") -> str:
    """[actor] actor_id if set, else hostname plus a random suffix.

    In Kubernetes the hostname is the pod name; the suffix still separates a
    restarted container from its predecessor, and processes on one machine.
    The id is also a file name (the status file), so odd characters become '-'.
    """
    if configured:
        return _UNSAFE.sub("-", configured)
    host = _UNSAFE.sub("-", socket.gethostname()) or "actor"
    return f"{host}-{secrets.token_hex(4)}"
