from __future__ import annotations

from pargen.cli import main

main()
