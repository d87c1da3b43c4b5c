"""Templates read as Packer reads them: discovery, HCL syntaxes, legacy JSON, build names, -only.
Imports nothing of pargen but pargen.errors; other rooms import from pargen.packer.parse alone."""
