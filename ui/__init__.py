"""The Gradio web chat (`rag serve`); built on `rag.KnowledgeBase` alone."""
