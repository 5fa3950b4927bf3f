"""LLM compute as a power load: GPU catalog, training and inference power, flexibility."""
