"""The citation check: which cited snippet backs each sentence of an answer, in the role the
question asks for; what is not backed is re-attributed, dropped, or the answer refused."""
