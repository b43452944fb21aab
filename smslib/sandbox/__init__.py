"""A local implementation of the SMS gateway API (gateway-api.md), for development and tests.

``SandboxBackend`` holds the rules and state, ``create_app`` puts HTTP in front of it,
``serve_in_thread`` runs it on a free port (``SandboxProcess``: in a process of its own), and
``python -m smslib.sandbox`` serves it.

It plays the provider, so it takes nothing from the product: it may import only the
standard library, starlette/uvicorn, and public names of ``smslib.rules`` (the GSM-7
alphabet is a standard, not our idea). The product learns the sandbox's accounts from it.
"""

from .app import create_app
from .backend import Admission, Faults, SandboxBackend, SandboxConfig
from .errors import SandboxError
from .server import RunningSandbox, SandboxProcess, SandboxServerError, serve_in_thread

__all__ = ["Admission", "Faults", "RunningSandbox", "SandboxBackend", "SandboxConfig", "SandboxError",
           "SandboxProcess", "SandboxServerError", "create_app", "serve_in_thread"]
