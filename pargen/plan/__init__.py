"""The plan: jobs, their ids and order, change selection, input hashes, and the plan's formats.
May import pargen.packer.parse, config, tools and errors; never render, run or cli."""
