"""Finding passages: the keyword index, hybrid retrieval with the learned ranker, and
retrieval within a question's time."""
