"""The models at run time: embeddings, the chat models (in-process, supervised worker,
OpenAI-compatible server) and the factory that builds the configured one."""
