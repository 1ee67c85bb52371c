"""bot-bottle's benchmark: its operations beside the engine's own floor.

`python -m benchmarks` measures, in one run and side by side, what bot-bottle
does (launch, teardown, prepare, the active list, cleanup, the unchanged-tree
check, the dashboard's first screen, peak memory) against the fewest engine
operations or commands that reach the same state. It prints a table of
medians and writes the same as JSON to `benchmarks/results/latest.json`.
"""
