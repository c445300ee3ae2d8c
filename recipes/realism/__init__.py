"""The realism recipes (paper Tables 1 and 5, Figures 3-5): common.py holds what they share."""
