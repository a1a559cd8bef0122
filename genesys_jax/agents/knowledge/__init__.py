"""The agents' knowledge engine: bundled papers, library units and optional online paper search."""
