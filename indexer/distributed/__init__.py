"""The offline job beyond one machine (`--ray`): imported only when a run asks for it."""
