"""Running untrusted functions: a hardened Docker worker pool, the image, and two gates.

Everything an LLM or a user wrote runs here and nowhere else. The rest of fnforge codes
against this surface only:

    from fnforge.sandbox import (CallResult, SandboxPool, open_pool, build_image, image_packages,
        image_module_facts, PolicyGate, PropertyGate, SandboxUnavailable)
"""

from fnforge.sandbox.image import build_image, image_module_facts, image_packages
from fnforge.sandbox.policy import PolicyGate
from fnforge.sandbox.pool import SandboxPool, WeakSandboxWarning, open_pool
from fnforge.sandbox.property_gate import PropertyGate
from fnforge.sandbox.results import CallError, CallResult, PropertyFailure, PropertyReport, SandboxUnavailable

__all__ = [
    "CallError",
    "CallResult",
    "PolicyGate",
    "PropertyGate",
    "PropertyFailure",
    "PropertyReport",
    "SandboxPool",
    "SandboxUnavailable",
    "WeakSandboxWarning",
    "build_image",
    "image_module_facts",
    "image_packages",
    "open_pool",
]
