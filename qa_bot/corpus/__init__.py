"""What is stored: the chunk store (Chroma) and the near-duplicate groups of its articles."""
