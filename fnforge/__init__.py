"""fnforge: train an LLM agent's functions instead of its weights.

The function set is the agent's learnable parameters; it lives in a git repository the user
owns, every proposed edit is a commit, and an edit is kept only if it passes every gate and
improves validation. See DESIGN.md for the architecture.
"""

__version__ = "0.1.0"
