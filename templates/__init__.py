"""Jinja templates of the script pargen renders (installed as the package ``pargen.templates``)."""
