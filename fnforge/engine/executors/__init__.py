"""Executors: where the rollouts of an evaluation run (see `base.py` for the seam).

`base.py` holds the interface and the values that cross it; `local.py` runs rollouts on this
machine; `ray/` runs them on a Ray cluster (`driver.py` on the driver, `node.py` on each node,
`relay.py` carrying model calls back to the driver's client). `[executor] kind` names one and
`fnforge.engine.experiment.choose_executor` builds it; nothing else chooses.
"""
