"""Pure data types of LLM Twin. Nothing here does I/O."""
