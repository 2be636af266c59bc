"""Answering a question: plan the query, retrieve, select sentences, prompt, generate, check
(the spine is :meth:`qa_bot.answer.bot.QABot._stream`)."""
