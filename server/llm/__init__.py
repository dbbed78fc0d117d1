"""LLM layer: providers behind one Protocol (provider.py), the drafting service (service.py).

Import from the modules; this marker stays empty so `server.llm.types` does not load the SDKs.
"""
