"""The graph optimizer: passes that rewrite a plan before it runs (fusion, ...).

Passes work on the planner's private view of the pruned graph; the user's
graph is never modified.
"""
