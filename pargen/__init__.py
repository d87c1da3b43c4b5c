"""pargen: build trees of Packer images in parallel, within limits, with GNU parallel."""

from __future__ import annotations

__version__ = "0.1.0"
