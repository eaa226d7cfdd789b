"""The Ray executor: `driver.py` spreads chunks over nodes, `node.py` runs them, `relay.py` carries model calls.

The only package that imports `ray`; loaded only when `[executor] kind = "ray"`.
"""
