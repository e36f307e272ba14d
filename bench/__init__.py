"""The side-by-side benchmark of issue 11: real ``parley run`` processes and floor bots over loopback fakes.

Run it with ``uv run python -m bench`` (``--smoke`` for a few-second check, ``--help`` for the sizes).
"""
