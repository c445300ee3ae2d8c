"""Runnable experiment definitions; only recipes/realism is a package (its scripts share common.py)."""
