"""Runs: run directories, executing and supervising, the console, joblog, reports, reruns.
May import plan, render, config, tools and errors (packer only through parse); never cli."""
