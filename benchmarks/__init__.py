"""Speed of metaprop against R's metafor and pimeta (issue 14).

Run everything with ``python -m benchmarks.run`` (``make bench``). Each tool runs in its
own process on the same inputs (``benchmarks.inputs``) and times its calls from inside
(medians over repeats), so interpreter start-up is not counted; ``benchmarks.run`` then
prints and writes the table (``benchmarks/results/``).
"""
