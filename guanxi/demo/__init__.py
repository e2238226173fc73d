"""The demo shop: a deterministic, synthetic Chinese multi-channel merchant (see loader.py).

Usage: `from guanxi.demo import load_demo; summary = load_demo(customers=6000)`. Every demo user
signs in with DEMO_PASSWORD. Names resolve lazily so importing this package needs no app registry.
"""

__all__ = [
    "DEFAULT_SEED",
    "DEMO_PASSWORD",
    "REFERENCE_ANCHOR",
    "DemoAlreadyLoaded",
    "DemoSummary",
    "DemoUser",
    "load_demo",
]


def __getattr__(name: str):
    if name in __all__:
        from guanxi.demo import loader

        return getattr(loader, name)
    raise AttributeError(f"module 'guanxi.demo' has no attribute {name!r}")
