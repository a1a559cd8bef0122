"""The agents: LLM backends, roles and prompts, the design flows, the knowledge engine and the offline designer."""
